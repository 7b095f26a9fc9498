"""@mentions and read receipts over /ws/: message.new names who is mentioned, a read sends the
others read.receipt (direct and group, not rooms), and people who must not learn it do not."""
# ruff: noqa: F811 - the socket fixtures of test_consumers are imported and taken as arguments

import pytest
from channels.db import database_sync_to_async

from chat import services as chat
from presence import services as presence
from tests.chat.test_consumers import (  # noqa: F401 (fixtures)
    BOB,
    as_alice,
    as_bob,
    as_carol,
    assert_silent,
    open_socket,
    receive,
    receive_by_type,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def group(alice, bob, carol):
    return chat.conversation_create(creator=alice, usernames=["bob", "carol"], title="Desk")[0]


async def test_a_mention_reaches_the_members_and_reading_resets_the_mentioned_count(
    open_socket, group, alice, as_alice, as_bob
):
    alice_ws, _ = await open_socket(as_alice)
    await alice_ws.send_json_to(
        {"type": "message.send", "conversation": group.pk, "body": "@bob look", "ref": "m"}
    )
    await receive_by_type(alice_ws, 2)
    bob_ws, hello = await open_socket(as_bob)

    [entry] = hello["conversations"]
    assert (entry["unread"], entry["mention_count"]) == (1, 1)
    await bob_ws.send_json_to({"type": "read", "ref": "r", "conversation": group.pk, "seq": 1})
    frames = await receive_by_type(bob_ws, 2)
    assert frames["conversation.read"]["mention_count"] == 0
    [receipt] = await receive(alice_ws)
    assert receipt == {"type": "read.receipt", "conversation": group.pk, "user": BOB, "seq": 1}


async def test_a_read_sends_the_others_a_receipt_but_not_the_reader_nor_whom_they_blocked(
    open_socket, group, alice, bob, as_alice, as_bob, as_carol
):
    await database_sync_to_async(chat.message_post)(
        sender=alice, conversation_id=group.pk, body="m1"
    )
    await database_sync_to_async(presence.contact_add)(
        owner=bob, username="alice", relationship="blocked"
    )
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    carol_ws, _ = await open_socket(as_carol)

    await bob_ws.send_json_to({"type": "read", "ref": "r", "conversation": group.pk, "seq": 1})

    frames = await receive_by_type(bob_ws, 2)
    assert set(frames) == {"read.ack", "conversation.read"}
    assert await receive(carol_ws) == [
        {"type": "read.receipt", "conversation": group.pk, "user": BOB, "seq": 1}
    ]
    await assert_silent(alice_ws)
    await assert_silent(bob_ws)
    # A read that does not move the marker sends nothing to anyone.
    await bob_ws.send_json_to({"type": "read", "ref": "again", "conversation": group.pk, "seq": 1})
    assert [f["type"] for f in await receive(bob_ws)] == ["read.ack"]
    await assert_silent(carol_ws)


async def test_a_read_in_a_room_sends_no_receipt(open_socket, alice, bob, as_alice, as_bob):
    room = await database_sync_to_async(chat.room_create)(
        creator=alice, title="Deals", members=[bob]
    )
    await database_sync_to_async(chat.message_post)(sender=alice, conversation_id=room.pk, body="m")
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)

    await bob_ws.send_json_to({"type": "read", "ref": "r", "conversation": room.pk, "seq": 1})

    assert set(await receive_by_type(bob_ws, 2)) == {"read.ack", "conversation.read"}
    await assert_silent(alice_ws)
