"""Room frames on /ws/: a wall change closes a live subscription, invitations and feed matches
reach their person, a manager's removal shows as message.updated with its notice."""

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from archiving.models import ArchiveRecord
from chat import services
from chat.models import Message
from config.asgi import application
from directory import services as directory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]
TIMEOUT = 5


@pytest_asyncio.fixture
async def socket_of(transactional_db):
    opened: list[WebsocketCommunicator] = []

    async def open_(person) -> WebsocketCommunicator:
        _, token = await database_sync_to_async(directory.token_create)(person=person)
        communicator = WebsocketCommunicator(
            application, "/ws/", headers=[(b"authorization", b"Bearer " + token.encode())]
        )
        opened.append(communicator)
        is_connected, _ = await communicator.connect(timeout=TIMEOUT)
        assert is_connected
        assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
        return communicator

    yield open_
    for communicator in opened:
        await communicator.disconnect(timeout=TIMEOUT)


async def frames_until(communicator, frame_type: str) -> list[dict]:
    frames = []
    while True:
        frame = await communicator.receive_json_from(timeout=TIMEOUT)
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames


async def test_a_wall_change_detaches_the_removed_members_socket_from_the_room(
    socket_of, alice, bob
):
    # given bob connected in a room of the category
    category = await database_sync_to_async(services.category_create)(name="Trading")
    room = await database_sync_to_async(services.room_create)(
        creator=alice, title="Flow", category_id=category.pk, members=[bob]
    )
    bob_ws = await socket_of(bob)

    # when bob is denied
    await database_sync_to_async(services.category_update)(
        actor=alice, category_id=category.pk, changes={"denied_people": [bob]}
    )

    # then bob's socket leaves the room, hears nothing more of it and cannot post to it
    # (its page says why, and keeps what bob was typing)
    assert (await frames_until(bob_ws, "conversation.left"))[-1] == {
        "type": "conversation.left",
        "conversation": room.pk,
        "title": "Flow",
        "reason": "ethical_wall",
        "by": {"username": "alice", "display_name": "Alice Martin"},
    }
    await database_sync_to_async(services.message_post)(
        sender=alice, conversation_id=room.pk, body="after the wall"
    )
    assert await bob_ws.receive_nothing(timeout=0.3)
    count = await database_sync_to_async(Message.objects.count)()
    await bob_ws.send_json_to(
        {"type": "message.send", "ref": "x", "conversation": room.pk, "body": "still here?"}
    )
    error = await bob_ws.receive_json_from(timeout=TIMEOUT)
    assert (error["type"], error["ref"], error["code"]) == ("error", "x", "conversation_not_found")
    assert await database_sync_to_async(Message.objects.count)() == count


async def test_an_invitation_reaches_the_invitees_sockets(socket_of, alice, bob):
    room = await database_sync_to_async(services.room_create)(
        creator=alice, title="Closed", privacy="closed"
    )
    bob_ws = await socket_of(bob)

    invitation = await database_sync_to_async(services.invitation_create)(
        actor=alice, room_id=room.pk, username="bob"
    )

    frame = await bob_ws.receive_json_from(timeout=TIMEOUT)
    assert frame == {
        "type": "room.invited",
        "invitation": {
            "id": invitation.pk,
            "room": {"id": room.pk, "name": "Closed", "topic": ""},
            "invited_by": {"username": "alice", "display_name": "Alice Martin"},
            "status": "pending",
            "created_at": frame["invitation"]["created_at"],
        },
    }


async def test_a_matching_message_raises_feed_match_on_the_owners_socket(socket_of, alice, bob):
    room = await database_sync_to_async(services.room_create)(
        creator=alice, title="Flow", members=[bob]
    )
    feed = await database_sync_to_async(services.feed_create)(
        owner=bob, name="Rates", hashtags=["#rates"]
    )
    bob_ws = await socket_of(bob)

    message, _ = await database_sync_to_async(services.message_post)(
        sender=alice, conversation_id=room.pk, body="Hikes ahead #Rates"
    )

    frames = await frames_until(bob_ws, "feed.match")
    assert frames[-1]["feed"] == {"id": feed.pk, "name": "Rates", "unread": 1}
    assert frames[-1]["message"]["id"] == message.pk


async def test_a_managers_removal_shows_its_notice_in_message_updated(socket_of, alice, bob):
    room = await database_sync_to_async(services.room_create)(
        creator=alice, title="Flow", members=[bob]
    )
    message, _ = await database_sync_to_async(services.message_post)(
        sender=bob, conversation_id=room.pk, body="off topic"
    )
    bob_ws = await socket_of(bob)

    await database_sync_to_async(services.message_delete)(actor=alice, message_id=message.pk)

    frame = await bob_ws.receive_json_from(timeout=TIMEOUT)
    assert frame["type"] == "message.updated"
    assert (frame["message"]["deleted"], frame["message"]["body"]) == (True, "")
    assert frame["message"]["removed_by"] == "alice"


async def test_a_newcomers_sync_of_the_backlog_is_one_history_view(socket_of, alice, bob):
    room = await database_sync_to_async(services.room_create)(creator=alice, title="Flow")
    for i in range(3):
        await database_sync_to_async(services.message_post)(
            sender=alice, conversation_id=room.pk, body=f"m{i}"
        )
    await database_sync_to_async(services.room_join)(person=bob, room_id=room.pk)
    bob_ws = await socket_of(bob)

    await bob_ws.send_json_to({"type": "sync", "ref": "s", "conversation": room.pk, "after_seq": 0})
    batch = await bob_ws.receive_json_from(timeout=TIMEOUT)
    await bob_ws.send_json_to({"type": "sync", "ref": "t", "conversation": room.pk, "after_seq": 3})
    empty = await bob_ws.receive_json_from(timeout=TIMEOUT)

    assert [m["body"] for m in batch["messages"]] == ["m0", "m1", "m2"]
    assert empty["messages"] == []
    views = await database_sync_to_async(
        lambda: list(
            ArchiveRecord.objects.filter(event="history.viewed").values_list(
                "actor_username", "payload"
            )
        )
    )()
    assert views == [("bob", {"from_seq": 1, "to_seq": 3, "count": 3})]
