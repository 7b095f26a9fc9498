"""@mentions and read receipts over /ws/: message.new names who is mentioned, a read sends the
others read.receipt (direct and group, not rooms), and people who must not learn it do not."""
# ruff: noqa: F811 - the socket fixtures of test_consumers are imported and taken as arguments

import pytest

from chat import services as chat
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
