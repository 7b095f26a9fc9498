"""Replies and reactions over /ws/: the reply a message.send carries, the quote each member
gets in message.new, message.updated when reactions change, and nothing for outsiders."""
# ruff: noqa: F811 - the socket fixtures of test_consumers are imported and taken as arguments

import pytest
from channels.db import database_sync_to_async

from chat import services as chat
from tests.chat.test_consumers import (  # noqa: F401 (fixtures)
    ALICE,
    BOB,
    as_alice,
    as_bob,
    as_carol,
    assert_silent,
    direct,
    error_frame,
    message_count,
    open_socket,
    ping_pong,
    receive,
    receive_by_type,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

THUMBS = "\N{THUMBS UP SIGN}"


async def test_a_reply_sent_as_a_frame_reaches_the_members_with_its_quote(
    open_socket, direct, bob, as_alice, as_bob, as_carol
):
    original, _ = await database_sync_to_async(chat.message_post)(
        sender=bob, conversation_id=direct.pk, body="Ready?"
    )
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    carol_ws, _ = await open_socket(as_carol)

    await alice_ws.send_json_to(
        {
            "type": "message.send",
            "conversation": direct.pk,
            "body": "Yes",
            "client_id": "r1",
            "reply_to": original.pk,
            "ref": "s1",
        }
    )

    quote = {"id": original.pk, "seq": 1, "sender": BOB, "excerpt": "Ready?", "deleted": False}
    frames = await receive_by_type(alice_ws, 2)
    assert frames["message.ack"]["seq"] == 2
    assert frames["message.new"]["message"]["reply_to"] == quote
    [new] = await receive(bob_ws)
    assert new["type"] == "message.new"
    assert new["message"]["reply_to"] == quote
    assert new["message"]["sender"] == ALICE
    await assert_silent(carol_ws)


async def test_a_reply_frame_to_another_conversations_message_is_an_error_and_stores_nothing(
    open_socket, direct, alice, carol, as_alice, as_bob
):
    other, _ = await database_sync_to_async(chat.conversation_direct_get_or_create)(
        person=alice, other=carol
    )
    elsewhere, _ = await database_sync_to_async(chat.message_post)(
        sender=carol, conversation_id=other.pk, body="not for bob"
    )
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    stored = await message_count()

    await bob_ws.send_json_to(
        {
            "type": "message.send",
            "conversation": direct.pk,
            "body": "re",
            "reply_to": elsewhere.pk,
            "ref": "r",
        }
    )
    await bob_ws.send_json_to(
        {"type": "message.send", "conversation": direct.pk, "body": "re", "reply_to": "x"}
    )

    assert await receive(bob_ws, 2) == [
        error_frame("reply_to_not_found", ref="r"),
        error_frame("invalid_reply_to"),
    ]
    await ping_pong(bob_ws)
    assert await message_count() == stored
    await assert_silent(alice_ws)


async def test_a_member_who_joined_after_the_original_gets_the_reply_without_its_quote(
    open_socket, alice, bob, carol, as_alice, as_carol
):
    group, _ = await database_sync_to_async(chat.conversation_create)(
        creator=alice, usernames=["bob"], title="Plans"
    )
    before, _ = await database_sync_to_async(chat.message_post)(
        sender=alice, conversation_id=group.pk, body="before carol"
    )
    await database_sync_to_async(chat.participant_add)(
        actor=alice, conversation_id=group.pk, username="carol"
    )
    alice_ws, _ = await open_socket(as_alice)
    carol_ws, _ = await open_socket(as_carol)

    await database_sync_to_async(chat.message_post)(
        sender=bob, conversation_id=group.pk, body="agreed", reply_to=before.pk
    )

    [to_alice] = await receive(alice_ws)
    [to_carol] = await receive(carol_ws)
    assert to_alice["message"]["reply_to"]["excerpt"] == "before carol"
    assert to_carol["message"]["body"] == "agreed"
    assert to_carol["message"]["reply_to"] == {
        "id": before.pk,
        "seq": 1,
        "sender": None,
        "excerpt": None,
        "deleted": False,
    }
    await assert_silent(carol_ws)
    await assert_silent(alice_ws)


async def test_reactions_reach_the_members_as_message_updated_and_not_outsiders(
    open_socket, direct, alice, bob, as_alice, as_bob, as_carol
):
    message, _ = await database_sync_to_async(chat.message_post)(
        sender=alice, conversation_id=direct.pk, body="shipped"
    )
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    carol_ws, _ = await open_socket(as_carol)

    await database_sync_to_async(chat.reaction_add)(person=bob, message_id=message.pk, emoji=THUMBS)
    await database_sync_to_async(chat.reaction_remove)(
        person=bob, message_id=message.pk, emoji=THUMBS
    )

    for ws in (alice_ws, bob_ws):
        added, removed = await receive(ws, 2)
        assert (added["type"], removed["type"]) == ("message.updated", "message.updated")
        assert added["message"]["id"] == message.pk
        assert added["message"]["reactions"] == [{"emoji": THUMBS, "count": 1, "people": ["bob"]}]
        assert removed["message"]["reactions"] == []
    await assert_silent(carol_ws)
