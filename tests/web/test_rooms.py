"""Rooms in real browsers: the directory, joining, live messages, auditorium mode, a manager
removing a message, files, invitations and topic feeds."""

import re
from pathlib import Path

import pytest

from chat import services as chat
from tests.web.conftest import PHONE, api_call, screenshot
from tests.web.test_chat import send, wait_for_bodies

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def desk(alice):
    category = chat.category_create(name="Trading", description="Desks and markets")
    return chat.room_create(
        creator=alice,
        title="FX desk",
        topic="Spot and forwards",
        description="Where the FX desk talks.",
        category_id=category.pk,
    )


def open_room(page, room) -> None:
    page.goto(f"/?conversation={room.pk}")
    page.wait_for_selector("body[data-connection='open']")
    page.locator("#conversation-title").filter(has_text=room.title).wait_for()


def test_directory_search_join_and_a_live_message(browsing, alice, bob, desk):
    chat.room_create(creator=alice, title="Lunch", topic="Where to eat")
    alice_page = browsing.client(alice)
    open_room(alice_page, desk)
    bob_page = browsing.page(browsing.context(bob), "/rooms/")
    bob_page.wait_for_selector("body[data-ready]")

    bob_page.get_by_role("heading", name="Trading").wait_for()
    bob_page.get_by_label("Name, topic or category").fill("forwards")
    bob_page.get_by_role("button", name="Search").click()
    bob_page.get_by_text("1 room", exact=True).wait_for()
    item = bob_page.locator(f"[data-room='{desk.pk}']")
    assert "Spot and forwards" in item.inner_text()
    assert "1 member" in item.inner_text()
    screenshot(bob_page, "rooms-directory")
    item.get_by_role("button", name="Join").click()
    item.locator(".tag--member").wait_for()
    assert "2 members" in item.inner_text()

    item.get_by_role("link", name="Open").click()
    bob_page.wait_for_selector("body[data-connection='open']")
    bob_page.locator("#conversation-title").filter(has_text="FX desk").wait_for()
    send(bob_page, "Morning desk")
    wait_for_bodies(alice_page, ["Morning desk"])
    alice_page.locator("#room-summary").click()
    alice_page.locator("#room-members [data-username='bob']").wait_for()
    assert "Manager" in alice_page.locator("#room-members [data-username='alice']").inner_text()
    screenshot(alice_page, "room-view-manager")


def test_auditorium_hides_the_composer_for_a_member(browsing, alice, bob):
    room = chat.room_create(creator=alice, title="Town hall", room_kind="auditorium")
    chat.room_member_add(actor=alice, room_id=room.pk, username="bob")
    chat.message_post(sender=alice, conversation_id=room.pk, body="Welcome all", client_id="")
    bob_page = browsing.client(bob)
    open_room(bob_page, room)

    wait_for_bodies(bob_page, ["Welcome all"])
    assert bob_page.locator("#composer").is_hidden()
    note = bob_page.locator("#auditorium-note")
    assert note.is_visible()
    assert "only its presenters and managers post" in note.inner_text()
    alice_page = browsing.client(alice)
    open_room(alice_page, room)
    assert alice_page.locator("#composer").is_visible()
    assert alice_page.locator("#auditorium-note").is_hidden()


def test_a_manager_removes_a_message_and_the_member_sees_the_notice(browsing, alice, bob, desk):
    chat.room_member_add(actor=alice, room_id=desk.pk, username="bob")
    chat.message_post(sender=bob, conversation_id=desk.pk, body="Off-limits tip", client_id="")
    alice_page = browsing.client(alice)
    bob_page = browsing.client(bob)
    open_room(alice_page, desk)
    open_room(bob_page, desk)
    wait_for_bodies(bob_page, ["Off-limits tip"])

    message = alice_page.locator("#message-list .message").first
    message.hover()  # a message's actions show on hover (or keyboard focus)
    message.get_by_role("button", name="Remove").click()
    message.get_by_role("button", name="Confirm remove").click()

    notice = "This message was removed by a manager (alice)."
    wait_for_bodies(bob_page, [notice])
    wait_for_bodies(alice_page, [notice])


def test_a_file_posted_in_a_room_downloads_and_a_refusal_is_shown(browsing, alice, bob, desk):
    chat.room_member_add(actor=alice, room_id=desk.pk, username="bob")
    alice_page = browsing.client(alice)
    bob_page = browsing.client(bob)
    open_room(alice_page, desk)
    open_room(bob_page, desk)

    alice_page.locator("#file-input").set_input_files(
        {"name": "rates.csv", "mimeType": "text/csv", "buffer": b"pair,rate\nEURUSD,1.08\n"}
    )
    link = bob_page.get_by_role("link", name="⤓ rates.csv")
    link.wait_for()
    with bob_page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "rates.csv"
    assert Path(download.path()).read_bytes() == b"pair,rate\nEURUSD,1.08\n"

    alice_page.locator("#file-input").set_input_files(
        {"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ\x90\x00"}
    )
    error = alice_page.locator("#composer-error")
    error.filter(has_text="tool.exe was not posted").wait_for()


def test_an_invitation_arrives_live_and_is_accepted(browsing, alice, bob, desk):
    bob_page = browsing.page(browsing.context(bob), "/rooms/")
    bob_page.wait_for_selector("body[data-ready]")
    bob_page.get_by_text("No invitations waiting.").wait_for()
    bob_page.wait_for_selector("body[data-connection='open']")  # hello has arrived

    api_call(browsing.server, alice, "POST", f"rooms/{desk.pk}/invitations/", {"username": "bob"})

    accept = bob_page.get_by_role("button", name="Accept the invitation to FX desk")
    accept.wait_for()
    screenshot(bob_page, "rooms-invitation")
    accept.click()
    bob_page.locator(f"[data-room='{desk.pk}'] .tag--member").wait_for()
    assert bob_page.get_by_text("No invitations waiting.").is_visible()


def test_a_topic_feed_counts_a_live_match(browsing, alice, bob, desk):
    chat.room_member_add(actor=alice, room_id=desk.pk, username="bob")
    bob_page = browsing.page(browsing.context(bob), "/rooms/")
    bob_page.wait_for_selector("body[data-ready]")
    bob_page.get_by_text("New feed").click()
    bob_page.get_by_label("Feed name").fill("Rates")
    bob_page.get_by_label("#Hashtags").fill("#rates")
    bob_page.get_by_role("button", name="Create feed").click()
    bob_page.locator("#feed-list").get_by_text("Rates").wait_for()
    bob_page.wait_for_selector("body[data-connection='open']")

    api_call(
        browsing.server,
        alice,
        "POST",
        f"conversations/{desk.pk}/messages/",
        {"body": "ECB decision at 14:15 #rates"},
    )
    bob_page.locator("#feed-list .badge").filter(has_text="1").wait_for()
    bob_page.locator("#feed-list").get_by_role("button", name=re.compile("Rates")).click()
    bob_page.locator("#feed-match-list").get_by_text("ECB decision at 14:15 #rates").wait_for()
    bob_page.locator("#feed-list .badge").wait_for(state="detached")


def test_rooms_page_fits_a_phone(browsing, alice, desk):
    page = browsing.page(browsing.context(alice, viewport=PHONE), "/rooms/")
    page.locator(f"[data-room='{desk.pk}']").wait_for()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    screenshot(page, "rooms-phone")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"


def test_a_manager_adds_a_presenter_and_changes_a_role(browsing, alice, bob, carol, desk):
    alice_page = browsing.client(alice)
    open_room(alice_page, desk)
    alice_page.locator("#room-summary").click()
    alice_page.get_by_label("Add someone to the room").fill("carol")
    alice_page.locator("#room-add-role").select_option("presenter")
    alice_page.get_by_role("button", name="Add", exact=True).click()
    alice_page.get_by_text("carol was added as presenter.").wait_for()
    carol_role = alice_page.get_by_label("Role of Carol Diaz")
    assert carol_role.input_value() == "presenter"

    carol_role.select_option("member")
    alice_page.get_by_text("Carol Diaz is now member.").wait_for()
    alice_page.get_by_role("button", name="Remove Carol Diaz").click()
    alice_page.get_by_text("Carol Diaz was removed.").wait_for()
    alice_page.locator("#room-members [data-username='carol']").wait_for(state="detached")


def test_a_delivery_error_shows_on_the_message(browsing, alice, bob):
    conversation, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    message, *_ = chat.message_post(
        sender=alice, conversation_id=conversation.pk, body="To the partner", client_id=""
    )
    message.delivery_error = "partner.example refused the message (service-unavailable)"
    message.save(update_fields=["delivery_error"])
    page = browsing.client(alice)
    page.get_by_role("button", name="Bob Chen").first.click()
    page.locator(".delivery-error").filter(
        has_text="Not delivered: partner.example refused the message"
    ).wait_for()
