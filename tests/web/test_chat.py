"""Two people chat in real browsers: live messages, typing, unread counts, escalation to a
group, edits and deletes, reconnecting after a drop, safe rendering, history and search."""

import re

import pytest

from archiving.search.indexing import search_index_pending
from chat import services as chat
from tests.web.conftest import api_call, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def bodies(page) -> list[str]:
    return page.locator("#message-list .message-body").all_inner_texts()


def wait_for_bodies(page, expected: list[str]) -> None:
    """Wait until the conversation shows exactly these message texts, in this order."""
    page.wait_for_function(
        "expected => JSON.stringify([...document.querySelectorAll("
        "'#message-list .message-body')].map(e => e.innerText)) === JSON.stringify(expected)",
        arg=expected,
    )


def send(page, text: str) -> None:
    page.locator("#composer-text").fill(text)
    page.keyboard.press("Enter")


@pytest.fixture
def direct(alice, bob):
    conversation, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    return conversation


def test_two_people_chat_live_both_ways(browsing, alice, bob, direct):
    alice_page = browsing.client(alice)
    bob_page = browsing.client(bob)

    alice_page.get_by_role("button", name="Bob Chen").first.click()
    send(alice_page, "Morning Bob, are you on the 10:00 call?")

    badge = bob_page.locator(f"[data-conversation='{direct.pk}'] .badge")
    badge.wait_for()
    assert badge.inner_text() == "1"
    assert badge.get_attribute("aria-label") == "1 unread"
    bob_page.get_by_role("button", name="Alice Martin").first.click()
    wait_for_bodies(bob_page, ["Morning Bob, are you on the 10:00 call?"])
    assert badge.count() == 0
    bob_page.locator("#composer-text").press_sequentially("Yes")
    alice_page.get_by_text("Bob Chen is typing…").wait_for()
    bob_page.keyboard.press("Enter")

    wait_for_bodies(alice_page, ["Morning Bob, are you on the 10:00 call?", "Yes"])
    wait_for_bodies(bob_page, ["Morning Bob, are you on the 10:00 call?", "Yes"])
    assert alice_page.locator("#typing-indicator").inner_text() == ""
    assert alice_page.locator("#message-announcer").text_content() == "Bob Chen: Yes"
    senders = alice_page.locator("#message-list .message-meta parley-presence")
    assert [senders.nth(i).get_attribute("user") for i in range(2)] == ["alice", "bob"]
    screenshot(alice_page, "client-conversation-desktop")


def test_adding_a_third_person_opens_a_new_group(browsing, alice, bob, carol, direct):
    chat.message_post(sender=alice, conversation_id=direct.pk, body="Just between us", client_id="")
    alice_page = browsing.client(alice)
    carol_page = browsing.client(carol)
    alice_page.get_by_role("button", name="Bob Chen").first.click()
    wait_for_bodies(alice_page, ["Just between us"])

    alice_page.get_by_role("button", name="Add person").click()
    alice_page.get_by_label("Username").fill("carol")
    alice_page.get_by_role("button", name="Add", exact=True).click()

    alice_page.locator("#conversation-title").filter(has_text="Bob Chen, Carol Diaz").wait_for()
    assert bodies(alice_page) == []
    conversation_names = alice_page.locator(".conversation-name").all_inner_texts()
    assert sorted(conversation_names) == ["Bob Chen", "Bob Chen, Carol Diaz"]
    send(alice_page, "Carol, meet Bob")
    carol_page.get_by_role("button", name="Alice Martin, Bob Chen").click()
    wait_for_bodies(carol_page, ["Carol, meet Bob"])
    wait_for_bodies(alice_page, ["Carol, meet Bob"])
    screenshot(alice_page, "client-group-after-escalation")
    assert carol_page.get_by_text("Just between us").count() == 0


def test_edits_and_deletes_show_on_the_other_side(browsing, alice, bob, direct):
    alice_page = browsing.client(alice)
    bob_page = browsing.client(bob)
    alice_page.get_by_role("button", name="Bob Chen").first.click()
    bob_page.get_by_role("button", name="Alice Martin").first.click()
    send(alice_page, "Price is 101")
    send(alice_page, "Ignore this")
    wait_for_bodies(bob_page, ["Price is 101", "Ignore this"])
    assert bob_page.locator("#message-list").get_by_role("button", name="Edit").count() == 0

    first = alice_page.locator("#message-list .message").nth(0)
    first.hover()  # Edit and Delete show on hover (or keyboard focus)
    first.get_by_role("button", name="Edit").click()
    alice_page.get_by_label("Edit message").fill("Price is 102")
    alice_page.get_by_label("Edit message").press("Enter")
    second = alice_page.locator("#message-list .message").nth(1)
    second.hover()
    second.get_by_role("button", name="Delete").click()
    second.get_by_role("button", name="Confirm delete").click()

    wait_for_bodies(bob_page, ["Price is 102", "This message was deleted."])
    assert bob_page.locator("#message-list .message").nth(0).locator(".edited").inner_text() == (
        "(edited)"
    )
    wait_for_bodies(alice_page, ["Price is 102", "This message was deleted."])


def test_after_a_drop_the_page_shows_every_missed_message_once_in_order(
    browsing, alice, bob, direct
):
    network = {"is_up": True, "sockets": []}

    def route(ws):
        if not network["is_up"]:
            ws.close(code=4000, reason="network down")
            return
        ws.connect_to_server()
        network["sockets"].append(ws)

    bob_page = browsing.client(
        bob, before_load=lambda page: page.route_web_socket(re.compile(r"/ws/"), route)
    )
    alice_page = browsing.client(alice)
    bob_page.get_by_role("button", name="Alice Martin").first.click()
    alice_page.get_by_role("button", name="Bob Chen").first.click()
    send(alice_page, "before the drop")
    wait_for_bodies(bob_page, ["before the drop"])

    network["is_up"] = False
    bob_page.context.set_offline(True)
    for ws in network["sockets"]:
        ws.close(code=4000, reason="network down")
    bob_page.get_by_text("Connection lost. Reconnecting…").wait_for()
    for n in (1, 2, 3):
        send(alice_page, f"missed {n}")
    wait_for_bodies(alice_page, ["before the drop", "missed 1", "missed 2", "missed 3"])
    assert bodies(bob_page) == ["before the drop"]
    network["is_up"] = True
    bob_page.context.set_offline(False)  # the browser says "online": the page retries at once

    wait_for_bodies(bob_page, ["before the drop", "missed 1", "missed 2", "missed 3"])
    assert bob_page.locator("#connection-status").is_hidden()
    send(alice_page, "after")
    wait_for_bodies(bob_page, ["before the drop", "missed 1", "missed 2", "missed 3", "after"])


def test_markup_in_a_message_is_shown_as_text_and_runs_nothing(browsing, alice, bob, direct):
    alice_page = browsing.client(alice)
    bob_page = browsing.client(bob)
    bob_page.get_by_role("button", name="Alice Martin").first.click()
    alice_page.get_by_role("button", name="Bob Chen").first.click()

    send(alice_page, "<img src=x onerror=alert(1)>")
    send(alice_page, "**Sell** *now*, see [the desk](https://example.com/desk) or `code`")
    send(alice_page, "[click](javascript:alert(2)) <script>alert(3)</script>")

    wait_for_bodies(
        bob_page,
        [
            "<img src=x onerror=alert(1)>",
            "Sell now, see the desk or code",
            "[click](javascript:alert(2)) <script>alert(3)</script>",
        ],
    )
    messages = bob_page.locator("#message-list")
    assert messages.locator("img, script").count() == 0
    second = messages.locator(".message-body").nth(1)
    assert second.locator("strong").inner_text() == "Sell"
    assert second.locator("em").inner_text() == "now"
    assert second.locator("code").inner_text() == "code"
    link = second.get_by_role("link", name="the desk")
    assert link.get_attribute("href") == "https://example.com/desk"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert messages.locator(".message-body").nth(2).locator("a").count() == 0
    bob_page.wait_for_timeout(300)
    assert bob_page.dialogs == []
    assert alice_page.dialogs == []
    screenshot(bob_page, "client-markdown-and-markup")


def test_history_pages_backwards(browsing, alice, bob, direct):
    for n in range(1, 61):
        chat.message_post(sender=alice, conversation_id=direct.pk, body=f"note {n}", client_id="")
    bob_page = browsing.client(bob)

    bob_page.get_by_role("button", name="Alice Martin").first.click()
    wait_for_bodies(bob_page, [f"note {n}" for n in range(11, 61)])
    bob_page.get_by_role("button", name="Load earlier messages").click()

    wait_for_bodies(bob_page, [f"note {n}" for n in range(1, 61)])
    assert bob_page.get_by_role("button", name="Load earlier messages").is_hidden()


def test_history_search_finds_my_messages_and_opens_them(browsing, alice, bob, carol, direct):
    chat.message_post(
        sender=alice, conversation_id=direct.pk, body="The quarterly figures", client_id=""
    )
    chat.message_post(sender=alice, conversation_id=direct.pk, body="Lunch?", client_id="")
    other, _ = chat.conversation_create(creator=alice, usernames=["carol"])
    chat.message_post(sender=alice, conversation_id=other.pk, body="quarterly, for carol only")
    search_index_pending()  # what the worker does (tasks of this process may be queued)
    bob_page = browsing.client(bob)

    bob_page.get_by_label("Words in my conversations").fill("quarterly")
    bob_page.get_by_label("Words in my conversations").press("Enter")

    hits = bob_page.locator("#history-results .history-hit")
    hits.first.wait_for()
    assert hits.count() == 1
    assert hits.locator("mark").all_inner_texts() == ["quarterly"]
    assert hits.locator(".history-text").inner_text() == "The quarterly figures"
    screenshot(bob_page, "client-history-search")
    hits.click()
    wait_for_bodies(bob_page, ["The quarterly figures", "Lunch?"])


def test_a_message_sent_over_the_api_arrives_live(browsing, alice, bob, direct):
    bob_page = browsing.client(bob)
    bob_page.get_by_role("button", name="Alice Martin").first.click()

    api_call(
        browsing.server,
        alice,
        "POST",
        f"conversations/{direct.pk}/messages/",
        {"body": "from a script", "client_id": "script-1"},
    )

    wait_for_bodies(bob_page, ["from a script"])


NOTIFICATION_RECORDER = """
// Record desktop notifications instead of showing them, and make the page hidden (as a tab
// in the background is), before Parley's scripts run.
window.shown = [];
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.shown.push({ title, body: options.body }); }
  addEventListener() {}
  close() {}
};
Object.defineProperty(document, "hidden", { get: () => true });
"""


def test_a_hidden_page_shows_a_desktop_notification_unless_do_not_disturb(
    browsing, alice, bob, direct
):
    bob_page = browsing.client(
        bob, before_load=lambda page: page.add_init_script(NOTIFICATION_RECORDER)
    )
    assert bob_page.get_by_role("button", name="Turn on desktop notifications").is_hidden()

    api_call(
        browsing.server,
        alice,
        "POST",
        f"conversations/{direct.pk}/messages/",
        {"body": "Are you there?", "client_id": "n-1"},
    )
    bob_page.wait_for_function("() => window.shown.length === 1")
    api_call(browsing.server, bob, "PUT", "presence/", {"availability": "do-not-disturb"})
    me = bob_page.locator("#presence-button parley-presence")
    bob_page.wait_for_function("e => e.dataset.colour === 'dnd'", arg=me.element_handle())
    api_call(
        browsing.server,
        alice,
        "POST",
        f"conversations/{direct.pk}/messages/",
        {"body": "Hello?", "client_id": "n-2"},
    )
    # By selector, not by element handle: the conversation list is redrawn on every message,
    # so a handle taken now may point at the replaced badge.
    badge = f"[data-conversation='{direct.pk}'] .badge"
    bob_page.wait_for_function("s => document.querySelector(s)?.innerText === '2'", arg=badge)

    assert bob_page.evaluate("window.shown") == [
        {"title": "Alice Martin", "body": "Are you there?"}
    ]


def test_leaving_a_group_removes_it_and_the_others_see_me_gone(browsing, alice, bob, carol):
    group, _ = chat.conversation_create(creator=alice, usernames=["bob", "carol"], title="")
    alice_page = browsing.client(alice)
    bob_page = browsing.client(bob)
    bob_page.get_by_role("button", name="Alice Martin, Carol Diaz").click()
    people = bob_page.locator("#conversation-people parley-presence")
    assert sorted(people.evaluate_all("list => list.map(e => e.getAttribute('user'))")) == [
        "alice",
        "carol",
    ]

    alice_page.get_by_role("button", name="Bob Chen, Carol Diaz").click()
    alice_page.get_by_role("button", name="Leave").click()

    alice_page.locator(f"[data-conversation='{group.pk}']").wait_for(state="detached")
    assert alice_page.locator("#conversation-view").is_hidden()
    bob_page.locator("#conversation-people parley-presence[user='alice']").wait_for(
        state="detached"
    )
    assert bob_page.locator("#conversation-title").inner_text() == "Carol Diaz"
