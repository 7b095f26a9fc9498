"""Presence in the browser: contacts' dots change live, the picker, the directory, idle
reports, and <parley-presence> embedded in another page of the site."""

import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from presence import services as presence
from presence.models import Contact, CustomPresenceState, Endpoint, PresenceState
from tests.web.conftest import IDLE_SECONDS, api_call, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def contact_entry(page, username: str):
    return page.locator(f"#contact-groups [data-username='{username}'] parley-presence")


def wait_for_label(element, label: str) -> None:
    """Wait until a <parley-presence> says this (its aria-label)."""
    try:
        element.page.wait_for_function(
            "([element, label]) => element.getAttribute('aria-label') === label",
            arg=[element.element_handle(), label],
        )
    except Exception:
        shown = element.get_attribute("aria-label")
        lines = "\n".join(element.page.console_lines)
        pytest.fail(f"{label!r} never shown; it says {shown!r}. Console:\n{lines}")


def test_a_contacts_dot_changes_live_when_they_change_state(browsing, alice, bob):
    presence.contact_add(owner=alice, username="bob", group="Desk")
    bob_context = browsing.context(bob)
    browsing.page(bob_context).wait_for_selector("body[data-connection='open']")
    alice_page = browsing.client(alice)
    bob_entry = contact_entry(alice_page, "bob")
    wait_for_label(bob_entry, "Bob Chen — Available")
    assert bob_entry.get_attribute("data-colour") == "available"
    assert alice_page.locator("#contact-groups h3").all_inner_texts() == ["Desk"]
    assert alice_page.locator("#contact-groups .avatar--initials").inner_text() == "BC"

    api_call(
        browsing.server, bob, "PUT", "presence/", {"availability": "busy", "note": "Quarter end"}
    )
    wait_for_label(bob_entry, "Bob Chen — Busy")
    assert bob_entry.get_attribute("data-colour") == "busy"
    assert bob_entry.locator(".note").inner_text() == "Quarter end"
    assert bob_entry.get_attribute("title") == "Bob Chen — Busy: Quarter end"
    screenshot(alice_page, "client-contacts-busy")

    api_call(browsing.server, bob, "PUT", "presence/", {"availability": "do-not-disturb"})
    wait_for_label(bob_entry, "Bob Chen — Do not disturb")
    assert bob_entry.get_attribute("data-colour") == "dnd"

    bob_context.close()
    wait_for_label(bob_entry, "Bob Chen — Offline")
    assert bob_entry.get_attribute("data-colour") == "offline"


def test_the_embedded_element_shows_each_viewer_what_they_may_see(browsing, alice, bob, carol):
    presence.contact_add(owner=bob, username="carol", relationship="blocked")
    presence.presence_set(person=bob, note="In the lab")
    browsing.client(bob)

    def intranet(person):
        # The element's documentation page stands in for an intranet page: it loads nothing
        # of the client but parley-presence.js.
        return browsing.page(browsing.context(person), "/presence-element/?user=bob,carol")

    alice_view = intranet(alice).locator("parley-presence[user='bob']")
    carol_view = intranet(carol).locator("parley-presence[user='bob']")

    wait_for_label(alice_view, "Bob Chen — Available")
    assert alice_view.locator(".note").inner_text() == "In the lab"
    assert alice_view.get_attribute("data-colour") == "available"
    wait_for_label(carol_view, "Bob Chen — Offline")
    assert carol_view.get_attribute("data-colour") == "offline"
    assert carol_view.locator(".note").is_hidden()
    carol_seen = alice_view.page.locator("parley-presence[user='carol']")
    wait_for_label(carol_seen, "Carol Diaz — Available")  # her own page is open
    screenshot(alice_view.page, "presence-element-page")


def test_a_meetings_subject_and_place_show_to_the_workgroup_only(browsing, alice, bob, carol):
    presence.contact_add(owner=bob, username="alice", relationship="workgroup")
    presence.contact_add(owner=alice, username="bob", group="Desk")
    presence.presence_set(person=bob, note="")
    # What calendar presence stores from Exchange (tests/presence/test_calendar.py reads it
    # from the wire): bob is in a meeting for the next hour.
    PresenceState.objects.filter(person=bob).update(
        calendar_activity="in-a-meeting",
        calendar_until=timezone.now() + timedelta(hours=1),
        calendar_subject="Budget review",
        calendar_location="Room 4.12",
    )
    browsing.client(bob)
    alice_page = browsing.client(alice)
    carol_page = browsing.page(browsing.context(carol), "/presence-element/?user=bob")

    bob_for_alice = contact_entry(alice_page, "bob")
    wait_for_label(bob_for_alice, "Bob Chen — In a meeting: Budget review (Room 4.12)")
    assert bob_for_alice.get_attribute("data-colour") == "busy"
    assert bob_for_alice.locator(".note").inner_text() == "Budget review (Room 4.12)"
    bob_for_carol = carol_page.locator("parley-presence[user='bob']")
    wait_for_label(bob_for_carol, "Bob Chen — In a meeting")
    assert bob_for_carol.locator(".note").is_hidden()
    screenshot(alice_page, "client-contact-in-a-meeting")


def test_the_presence_picker_sets_busy_for_an_hour_with_a_note(browsing, alice, bob):
    CustomPresenceState.objects.create(label="Working from home", colour_class="available")
    page = browsing.client(alice)
    me = page.locator("#presence-button parley-presence")
    wait_for_label(me, "Alice Martin — Available")

    page.locator("#presence-button").click()
    page.get_by_role("radio", name="Busy", exact=True).check()
    page.get_by_label("Reset after").select_option(label="1 hour")
    page.get_by_label("Note").fill("Back at 3")
    page.get_by_label("Location").fill("Floor 4")
    screenshot(page, "presence-picker")
    page.get_by_role("button", name="Save").click()

    wait_for_label(me, "Alice Martin — Busy")
    seen = api_call(browsing.server, bob, "GET", "presence/alice/")
    shown = (seen["availability"], seen["note"], seen["location"])
    assert shown == ("busy", "Back at 3", "Floor 4")
    until = datetime.fromisoformat(seen["until"])
    assert abs(until - (timezone.now() + timedelta(hours=1))) < timedelta(minutes=1)

    page.locator("#presence-button").click()
    page.get_by_role("radio", name="Working from home").check()
    page.get_by_role("button", name="Save").click()
    wait_for_label(me, "Alice Martin — Working from home")
    page.locator("#presence-button").click()
    assert page.get_by_role("radio", name="Working from home").is_checked()
    page.keyboard.press("Escape")
    assert page.get_by_role("dialog").is_hidden()


def test_directory_search_adds_a_contact_with_a_relationship(browsing, alice, bob):
    page = browsing.client(alice)

    page.get_by_label("Find people").fill("bob")
    page.get_by_label("Find people").press("Enter")
    result = page.locator("#directory-results [data-username='bob']")
    wait_for_label(result.locator("parley-presence"), "Bob Chen — Offline")
    result.get_by_role("button", name="Add contact").click()
    page.get_by_label("Group").fill("Desk")
    page.get_by_label("What they may see of me").select_option("workgroup")
    page.get_by_role("button", name="Save").click()

    contact_entry(page, "bob").wait_for()
    screenshot(page, "client-directory-search")
    assert page.locator("#contact-groups h3").all_inner_texts() == ["Desk"]
    assert result.get_by_role("button", name="Edit contact").is_visible()
    contact = Contact.objects.get(owner=alice)
    assert (contact.person, contact.group, contact.relationship) == (bob, "Desk", "workgroup")


def test_the_page_reports_idle_and_active_again(browsing, alice):
    page = browsing.client(alice)

    deadline = time.monotonic() + IDLE_SECONDS + 8
    while Endpoint.objects.get(person=alice).idle_since is None:
        assert time.monotonic() < deadline, "the page never reported idle"
        time.sleep(0.1)
    page.mouse.move(10, 10)
    page.mouse.move(40, 40)

    deadline = time.monotonic() + 5
    while Endpoint.objects.get(person=alice).idle_since is not None:
        assert time.monotonic() < deadline, "the page never reported activity"
        time.sleep(0.1)
