"""Accessibility: axe-core (bundled in the axe-playwright-python wheel, nothing downloaded)
finds no serious or critical violation on any page, and the main journeys work from the
keyboard alone with a visible focus."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import Group

from chat import services as chat
from tests.web.conftest import DESKTOP, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
SERIOUS = {"serious", "critical"}


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(node["target"][0] for node in violation["nodes"][:5])
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


@pytest.fixture
def officer(make_person):
    person = make_person("cora", display_name="Cora Lindqvist")
    person.groups.add(Group.objects.get_or_create(name="Compliance")[0])
    return person


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_serious_violations_on_any_page(browsing, alice, bob, officer, viewport):
    direct, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    chat.message_post(sender=bob, conversation_id=direct.pk, body="Hello **Alice**")
    room = chat.room_create(creator=alice, title="FX desk", topic="Spot")
    found = {}

    sign_in = browsing.page(browsing.context(viewport=viewport), "/login/")
    found["sign-in"] = serious_violations(sign_in)

    client = browsing.client(alice, viewport=viewport)
    found["chat"] = serious_violations(client)
    client.goto(f"/c/{direct.pk}/")
    client.locator("#message-list .message").first.wait_for()
    found["conversation"] = serious_violations(client)
    client.locator("#message-list .person-button").first.click()
    client.locator("#card-dialog .card-state").wait_for()
    found["contact card"] = serious_violations(client)
    client.keyboard.press("Escape")
    client.locator("#presence-button").click()
    client.locator("#presence-options input").first.wait_for()
    found["presence picker"] = serious_violations(client)
    client.keyboard.press("Escape")
    client.goto(f"/c/{room.pk}/")
    client.locator("#room-details").wait_for()
    found["room"] = serious_violations(client)

    rooms = browsing.page(client.context, "/rooms/")
    rooms.wait_for_selector("body[data-ready]")
    rooms.locator(".room-item").first.wait_for()
    found["rooms"] = serious_violations(rooms)
    not_found = browsing.page(client.context, "/c/999999/")
    found["404"] = serious_violations(not_found)

    console = browsing.context(officer, viewport=viewport)
    for path in (
        "/console/",
        "/console/cases/",
        "/console/exports/",
        "/console/audit/",
        "/console/health/",
        "/console/presence/",
    ):
        page = browsing.page(console, path)
        page.wait_for_load_state("networkidle")
        found[path] = serious_violations(page)

    assert {name: lines for name, lines in found.items() if lines} == {}


def test_the_main_journey_works_from_the_keyboard_alone(browsing, alice, bob):
    chat.conversation_create(creator=alice, usernames=["bob"])
    bob_page = browsing.client(bob)
    page = browsing.client(alice)

    # Tab from the top of the page reaches the conversation; Enter opens it
    page.locator("body").focus()
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('conversation-item')"):
            break
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # focus is visible
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement.id === 'composer-text'")
    page.keyboard.type("sent without a mouse")
    page.keyboard.press("Enter")
    bob_page.get_by_role("button", name="Alice Martin").first.click()
    bob_page.locator("#message-list .message-body").filter(
        has_text="sent without a mouse"
    ).wait_for()

    # Up edits it, Enter saves
    page.keyboard.press("ArrowUp")
    page.wait_for_function("document.activeElement.classList.contains('edit-input')")
    page.keyboard.press("End")
    page.keyboard.type(", edited")
    page.keyboard.press("Enter")
    bob_page.locator("#message-list .message-body").filter(
        has_text="sent without a mouse, edited"
    ).wait_for()

    # the presence picker opens and closes from the keyboard, focus returns to its button
    page.locator("#presence-button").focus()
    page.keyboard.press("Enter")
    page.locator("#presence-dialog").wait_for()
    page.keyboard.press("Escape")
    page.wait_for_function("document.activeElement.id === 'presence-button'")
    screenshot(page, "keyboard-journey")
