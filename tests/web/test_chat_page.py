"""The chat as employees expect it, in real browsers: deep links kept in the address bar, the
message list (groups, day dividers, previews, thumbnails, Up-arrow edits), contact cards with
photos, notices when someone leaves or is removed, refused messages kept, the reconnecting
banner, search errors, presence from every page, and a phone screen of 390x844."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from archiving.search.indexing import search_index_pending
from chat import services as chat
from chat.models import Message
from presence import services as presence
from tests.web.conftest import api_call, screenshot
from tests.web.test_chat import send, wait_for_bodies

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
# A 2x2 PNG (red), as a photo or an image posted in a conversation.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000020000000208020000"
    "00fdd49a730000001649444154789c63f8cfc0f01f0418fe0341868100"
    "00b1db0ff7b1dd1c7c0000000049454e44ae426082"
)


@pytest.fixture
def direct(alice, bob):
    conversation, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    return conversation


def post(person, conversation, body: str) -> Message:
    message, _ = chat.message_post(sender=person, conversation_id=conversation.pk, body=body)
    return message


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return bool(
        box
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"]
        and box["y"] + box["height"] <= size["height"]
    )


def test_on_a_phone_the_composer_with_send_and_attach_stays_on_screen(browsing, alice, bob, direct):
    for n in range(1, 31):
        post(bob, direct, f"line {n}")
    page = browsing.client(alice, viewport=PHONE)

    page.get_by_role("button", name="Bob Chen").first.click()
    wait_for_bodies(page, [f"line {n}" for n in range(1, 31)])

    for name in ("Send", "Attach"):
        button = page.get_by_role("button", name=name, exact=True)
        assert in_viewport(page, button), name
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    send(page, "from the phone")
    wait_for_bodies(page, [*[f"line {n}" for n in range(1, 31)], "from the phone"])
    page.screenshot(path=_path("phone-390-conversation"))


def _path(name: str):
    from tests.web.conftest import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def test_a_conversation_and_a_message_have_addresses_that_survive_reload_back_and_new_tabs(
    browsing, alice, bob, carol, direct
):
    messages = [post(alice, direct, f"point {n}") for n in range(1, 6)]
    page = browsing.client(alice)

    page.get_by_role("button", name="Bob Chen").first.click()
    page.wait_for_url(f"**/c/{direct.pk}/")
    wait_for_bodies(page, [f"point {n}" for n in range(1, 6)])
    page.reload()
    page.locator("#conversation-title").filter(has_text="Bob Chen").wait_for()
    wait_for_bodies(page, [f"point {n}" for n in range(1, 6)])
    page.go_back()
    page.wait_for_url(re.compile(r"/$"))
    page.locator("#conversation-placeholder").wait_for()
    assert page.locator("#conversation-view").is_hidden()
    page.go_forward()
    page.locator("#conversation-title").filter(has_text="Bob Chen").wait_for()

    # a message's time is its link; a new tab opens the conversation there, marked
    link = page.locator(f"#message-{messages[2].pk} a.message-link")
    assert link.get_attribute("href") == f"/c/{direct.pk}/m/3/"
    tab = browsing.page(page.context, f"/c/{direct.pk}/m/3/")
    marked = tab.locator("#message-list .message--target")
    marked.wait_for()
    assert marked.locator(".message-body").inner_text() == "point 3"
    assert tab.evaluate("document.activeElement.id") == f"message-{messages[2].pk}"
    screenshot(tab, "deep-link-message-marked")

    # someone outside the conversation gets the same 404 page as for none at all
    outsider = browsing.context(carol)
    not_member = outsider.new_page()
    response = not_member.goto(f"/c/{direct.pk}/")
    assert response.status == 404
    text_not_member = not_member.locator("body").inner_text().replace(f"/c/{direct.pk}/", "/c/N/")
    response = not_member.goto("/c/999999/")
    assert response.status == 404
    assert not_member.locator("body").inner_text().replace("/c/999999/", "/c/N/") == (
        text_not_member
    )
    assert "Bob Chen" not in not_member.content()


def test_a_history_search_hit_opens_the_conversation_at_the_message_marked(
    browsing, alice, bob, direct
):
    for n in range(1, 81):
        post(alice, direct, "the quarterly figures" if n == 7 else f"note {n}")
    search_index_pending()
    page = browsing.client(bob)

    page.get_by_label("Words in my conversations").fill("quarterly")
    page.get_by_label("Words in my conversations").press("Enter")
    page.locator("#history-results .history-hit").click()

    page.wait_for_url(f"**/c/{direct.pk}/m/7/")
    marked = page.locator("#message-list .message--target")
    marked.wait_for()
    assert marked.locator(".message-body").inner_text() == "the quarterly figures"
    page.wait_for_function(
        "() => { const r = document.querySelector('.message--target').getBoundingClientRect();"
        " const s = document.getElementById('message-scroller').getBoundingClientRect();"
        " return r.top >= s.top && r.bottom <= s.bottom; }"
    )
    screenshot(page, "history-hit-opens-message")


def test_a_search_error_clears_the_old_hits_and_says_why(browsing, alice, bob, direct):
    post(alice, direct, "quarterly numbers")
    search_index_pending()
    page = browsing.client(bob)
    box = page.get_by_label("Words in my conversations")
    box.fill("quarterly")
    box.press("Enter")
    page.locator("#history-results .history-hit").wait_for()

    box.fill('"quarterly')
    box.press("Enter")

    error = page.locator("#history-results .error")
    error.wait_for()
    assert "The search failed" in error.inner_text()
    assert "never closed" in error.inner_text()
    assert page.locator("#history-results .history-hit").count() == 0


def test_the_message_list_groups_senders_divides_days_and_previews_the_last(
    browsing, alice, bob, direct
):
    first = post(alice, direct, "yesterday's close")
    post(alice, direct, "and the open")
    Message.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(days=1))
    post(bob, direct, "morning")
    post(bob, direct, "two things")
    post(bob, direct, "first, the rates")
    alice_page = browsing.client(alice)
    bob_page = browsing.client(bob)

    item = alice_page.locator(f"[data-conversation='{direct.pk}']")
    item.locator(".conversation-preview").filter(has_text="Bob: first, the rates").wait_for()
    item.click()
    wait_for_bodies(
        alice_page,
        ["yesterday's close", "and the open", "morning", "two things", "first, the rates"],
    )
    dividers = alice_page.locator("#message-list .day-divider")
    assert dividers.count() == 2
    assert dividers.nth(1).inner_text() == "Today"
    continued = alice_page.locator("#message-list .message--continued .message-body")
    assert continued.all_inner_texts() == ["two things", "first, the rates"]
    screenshot(alice_page, "message-list-grouped")

    # Up in the empty box edits my last message
    bob_page.get_by_role("button", name="Alice Martin").first.click()
    wait_for_bodies(
        bob_page,
        ["yesterday's close", "and the open", "morning", "two things", "first, the rates"],
    )
    bob_page.locator("#composer-text").press("ArrowUp")
    editor = bob_page.get_by_label("Edit message")
    assert editor.input_value() == "first, the rates"
    editor.fill("first, the FX rates")
    editor.press("Enter")
    wait_for_bodies(
        alice_page,
        ["yesterday's close", "and the open", "morning", "two things", "first, the FX rates"],
    )

    # an image posted shows as a thumbnail on the other side
    bob_page.locator("#file-input").set_input_files(
        {"name": "chart.png", "mimeType": "image/png", "buffer": PNG}
    )
    thumbnail = alice_page.locator("#message-list img.thumbnail")
    thumbnail.wait_for()
    alice_page.wait_for_function(
        "() => { const i = document.querySelector('#message-list img.thumbnail');"
        " return i && i.complete && i.naturalWidth === 2; }"
    )
    assert thumbnail.get_attribute("alt") == "Image chart.png"
    item.locator(".conversation-preview").filter(has_text="Bob: 📎 chart.png").wait_for()


def test_a_contact_card_shows_what_the_projection_allows(browsing, alice, bob, carol, direct):
    bob.title = "Trader"
    bob.work_phone = "+1 555 0101"
    bob.time_zone = "Asia/Tokyo"
    bob.save(update_fields=["title", "work_phone", "time_zone"])
    post(bob, direct, "ping")
    group, _ = chat.conversation_create(creator=carol, usernames=["bob"], title="Lunch")
    post(bob, group, "pong")
    presence.contact_add(owner=bob, username="carol", relationship="blocked")
    bob_page = browsing.client(bob)

    # bob sets his photo and location himself, from the presence picker
    bob_page.locator("#presence-button").click()
    bob_page.locator("#presence-photo").set_input_files(
        {"name": "me.png", "mimeType": "image/png", "buffer": PNG}
    )
    bob_page.locator("#presence-photo-preview img.avatar").wait_for()
    bob_page.get_by_label("Location").fill("London, 4th floor")
    bob_page.get_by_role("button", name="Save").click()

    alice_page = browsing.client(alice)
    alice_page.get_by_role("button", name="Bob Chen").first.click()
    alice_page.locator("#message-list .person-button[data-card='bob']").click()
    card = alice_page.locator("#card-dialog")
    card.get_by_text("London, 4th floor").wait_for()
    assert card.locator("#card-title").inner_text() == "Bob Chen"
    assert "Trader" in card.locator(".card-role").inner_text()
    assert card.locator(".card-state").inner_text() == "Available"
    assert card.get_by_role("link", name="+1 555 0101").get_attribute("href") == "tel:+15550101"
    assert "(Asia/Tokyo)" in card.inner_text()
    alice_page.wait_for_function(
        "() => { const i = document.querySelector('#card-dialog .card-photo img');"
        " return i && i.complete && i.naturalWidth === 2; }"
    )
    screenshot(alice_page, "contact-card-desktop")
    alice_page.keyboard.press("Escape")
    assert card.is_hidden()

    # carol, whom bob blocked, sees neither his photo nor his location
    carol_page = browsing.client(carol, viewport=PHONE)
    carol_page.get_by_role("button", name="Lunch").first.click()
    carol_page.locator("#message-list .person-button[data-card='bob']").click()
    carol_card = carol_page.locator("#card-dialog")
    carol_card.locator(".card-state").filter(has_text="Offline").wait_for()
    assert carol_card.locator(".card-photo img").count() == 0
    assert "London" not in carol_card.inner_text()
    assert "+1 555" not in carol_card.inner_text()
    screenshot(carol_page, "contact-card-phone-blocked")


def test_a_removed_member_keeps_the_draft_and_a_group_sees_who_left(browsing, alice, bob, carol):
    category = chat.category_create(name="Trading")
    room = chat.room_create(creator=alice, title="FX desk", category_id=category.pk)
    chat.room_member_add(actor=alice, room_id=room.pk, username="bob")
    group, _ = chat.conversation_create(creator=alice, usernames=["bob", "carol"], title="")
    bob_page = browsing.client(bob)
    alice_page = browsing.client(alice)

    bob_page.goto(f"/c/{room.pk}/")
    bob_page.locator("#conversation-title").filter(has_text="FX desk").wait_for()
    assert bob_page.locator("#conversation-people").inner_text() == "2 members"
    bob_page.locator("#composer-text").fill("half-written thought about EURUSD")
    api_call(browsing.server, alice, "DELETE", f"rooms/{room.pk}/members/bob/")

    note = bob_page.locator("#left-note")
    note.wait_for()
    assert "You were removed from FX desk by Alice Martin." in note.inner_text()
    assert bob_page.locator("#composer-text").input_value() == "half-written thought about EURUSD"
    assert bob_page.get_by_role("button", name="Send").is_disabled()
    bob_page.locator(f"[data-conversation='{room.pk}']").wait_for(state="detached")
    screenshot(bob_page, "removed-from-room-draft-kept")

    alice_page.get_by_role("button", name="FX desk").click()
    alice_page.locator("#conversation-people").filter(has_text="1 member").wait_for()
    assert alice_page.locator("#conversation-people").inner_text() == "1 member"

    alice_page.get_by_role("button", name="Bob Chen, Carol Diaz").click()
    api_call(browsing.server, carol, "DELETE", f"conversations/{group.pk}/participants/carol/")
    alice_page.locator("#message-list .system-notice").filter(has_text="Carol Diaz left").wait_for()
    screenshot(alice_page, "group-someone-left")


def test_a_refused_message_stays_in_the_box_to_fix(browsing, alice, bob, direct):
    page = browsing.client(alice)
    page.get_by_role("button", name="Bob Chen").first.click()
    too_long = "x" * 20_000

    send(page, too_long)

    failed = page.locator("#pending-list .message--failed")
    failed.wait_for()
    assert "Not sent" in failed.inner_text()
    assert page.locator("#composer-text").input_value() == too_long
    assert Message.objects.count() == 0
    page.locator("#composer-text").fill("short")
    page.keyboard.press("Enter")
    wait_for_bodies(page, ["short"])


def test_a_network_drop_shows_the_reconnecting_banner_until_it_is_back(
    browsing, alice, bob, direct
):
    page = browsing.client(alice)
    banner = page.locator("#connection-status")

    page.context.set_offline(True)

    banner.filter(has_text="Connection lost. Reconnecting…").wait_for()
    page.context.set_offline(False)
    page.wait_for_selector("body[data-connection='open']")
    banner.wait_for(state="hidden")


def test_presence_is_set_from_the_rooms_page_and_staff_see_the_admin_link(
    browsing, make_person, alice
):
    admin = make_person("root", display_name="Root Admin", is_staff=True, is_superuser=True)
    page = browsing.page(browsing.context(alice), "/rooms/")
    page.wait_for_selector("body[data-ready]")
    assert page.get_by_role("link", name="Admin").count() == 0

    page.locator("#presence-button").click()
    page.get_by_label("Busy", exact=True).check()
    page.get_by_role("button", name="Save").click()
    me = page.locator("#presence-button parley-presence")
    page.wait_for_function("e => e.dataset.availability === 'busy'", arg=me.element_handle())

    admin_page = browsing.page(browsing.context(admin), "/rooms/")
    assert admin_page.get_by_role("link", name="Admin").get_attribute("href") == "/admin/"
    favicon = admin_page.request.get("/favicon.ico")
    assert favicon.status == 200
    assert favicon.headers["content-type"].startswith("image/svg+xml")


def test_the_room_directory_follows_joins_live(browsing, alice, bob):
    category = chat.category_create(name="Trading")
    room = chat.room_create(creator=alice, title="FX desk", category_id=category.pk)
    page = browsing.page(browsing.context(alice), "/rooms/")
    page.wait_for_selector("body[data-ready]")
    count = page.locator(f"[data-room='{room.pk}'] .room-count")
    count.filter(has_text="1 member").wait_for()

    api_call(browsing.server, bob, "POST", f"rooms/{room.pk}/join/")

    count.filter(has_text="2 members").wait_for()


def test_replies_and_reactions_between_two_people(browsing, alice, bob, direct):
    post(alice, direct, "morning")
    chat.conversation_mark_read(person=alice, conversation_id=direct.pk, seq=1)
    question = post(bob, direct, "Can you send the EURUSD forwards?")
    for n in range(1, 4):
        post(bob, direct, f"filler {n}")
    alice_page = browsing.client(alice)
    bob_page = browsing.client(bob)
    bob_page.get_by_role("button", name="Alice Martin").first.click()
    alice_page.get_by_role("button", name="Bob Chen").first.click()

    # the "new messages" line sits above what alice had not read
    line = alice_page.locator("#message-list .new-messages")
    line.wait_for()
    assert line.inner_text() == "New messages"
    assert (
        line.evaluate("e => e.previousElementSibling.querySelector('.message-body').innerText")
        == "morning"
    )
    assert line.evaluate("e => e.nextElementSibling.id") == f"message-{question.pk}"

    item = alice_page.locator(f"#message-{question.pk}")
    item.hover()
    item.get_by_role("button", name="Reply").click()
    alice_page.locator("#reply-bar").filter(has_text="Replying to Bob Chen").wait_for()
    send(alice_page, "Sent, see the desk folder")

    quote = bob_page.locator("#message-list .reply-quote")
    quote.wait_for()
    assert quote.locator(".reply-quote-sender").inner_text() == "Bob Chen"
    assert quote.locator(".reply-quote-text").inner_text() == "Can you send the EURUSD forwards?"
    assert alice_page.locator("#reply-bar").is_hidden()
    quote.click()  # jumps to the original, marked
    bob_page.wait_for_url(f"**/c/{direct.pk}/m/{question.seq}/")
    bob_page.locator(f"#message-{question.pk}.message--target").wait_for()

    # bob reacts to the reply; alice sees it live and adds hers
    reply = bob_page.locator("#message-list .message").last
    reply.hover()
    reply.get_by_role("button", name="React").click()
    bob_page.get_by_role("button", name="React with 👍").click()
    chip = alice_page.locator("#message-list .message").last.locator(".reaction")
    chip.filter(has_text="👍 1").wait_for()
    assert chip.get_attribute("aria-pressed") == "false"
    chip.click()
    bob_chip = reply.locator(".reaction")
    bob_chip.filter(has_text="👍 2").wait_for()
    assert bob_chip.get_attribute("title") == "bob, alice"
    screenshot(bob_page, "reply-and-reactions")
    bob_chip.click()  # bob takes his back
    chip.filter(has_text="👍 1").wait_for()
    assert chip.get_attribute("aria-pressed") == "true"


def test_typing_at_suggests_people_of_the_conversation(browsing, alice, bob, carol):
    chat.conversation_create(creator=alice, usernames=["bob", "carol"], title="Desk")
    page = browsing.client(alice, viewport=PHONE)
    page.get_by_role("button", name="Desk").first.click()

    page.locator("#composer-text").press_sequentially("thanks @ca")
    options = page.locator("#mention-list [role=option]")
    options.first.wait_for()
    assert options.all_inner_texts() == ["Carol Diaz @carol"]
    screenshot(page, "mention-suggestions-phone")
    page.keyboard.press("Enter")

    assert page.locator("#composer-text").input_value() == "thanks @carol "
    assert page.locator("#mention-list").is_hidden()
    page.keyboard.press("Enter")
    wait_for_bodies(page, ["thanks @carol"])
