"""The access matrix: users x rooms x actions.

Every privacy (open / closed / secret) x kind (normal / auditorium) x wall (none / the actor
walled out by the room's category after joining) x role (manager / presenter / member /
outsider) x action (read history, room detail, member list, send, edit, delete, invite, join,
download, search) over REST, and subscribe (sync) and send over the WebSocket. The expected
answer is derived from the rules, independently of the code: zero unauthorised allows, every
deny a 403 or 404 (404 whenever the room is invisible to the actor) or an `error` frame, and
nothing written on a deny.
"""

import itertools
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from archiving.models import ArchiveRecord
from archiving.search.indexing import search_index_pending
from chat import services
from chat.models import Conversation, Invitation, Message, Participant
from config.asgi import application
from directory import services as directory
from directory.models import Department, Person

PRIVACIES = ["open", "closed", "secret"]
KINDS = ["normal", "auditorium"]
WALLS = ["none", "walled"]
ROLES = ["manager", "presenter", "member", "outsider"]
ACTIONS = [
    "read",
    "detail",
    "members",
    "send",
    "edit",
    "delete",
    "invite",
    "join",
    "download",
    "search",
]
CASES = list(itertools.product(PRIVACIES, KINDS, WALLS, ROLES))


@dataclass
class World:
    room: Conversation
    actor: Person
    own_message: Message | None
    others_message: Message
    file_id: int


def world_build(make_person, *, privacy: str, kind: str, wall: str, role: str) -> World:
    """A room of every role, one message each and a file; the actor walled out if asked."""
    restricted = Department.objects.create(name="Restricted")
    category = services.category_create(
        name="Desk", denied_departments=[restricted] if wall == "walled" else []
    )
    manager, presenter, member = make_person("mgr"), make_person("pres"), make_person("memb")
    outsider = make_person("outsider")
    make_person("newcomer")
    room = services.room_create(
        creator=manager, title="Desk room", category_id=category.pk, privacy=privacy
    )
    services.room_member_add(actor=manager, room_id=room.pk, username="pres", role="presenter")
    services.room_member_add(actor=manager, room_id=room.pk, username="memb")
    posted = {
        person.username: services.message_post(
            sender=person, conversation_id=room.pk, body=f"needle from {person.username}"
        )[0]
        for person in (manager, presenter, member)
    }
    upload = services.file_post(
        uploader=manager,
        conversation_id=room.pk,
        name="notes.txt",
        content_type="text/plain",
        data=b"quarterly notes",
    )
    search_index_pending()
    Conversation.objects.filter(pk=room.pk).update(room_kind=kind)
    actor = {"manager": manager, "presenter": presenter, "member": member}.get(role, outsider)
    if wall == "walled":
        # Moved into a denied department after joining, without any re-check: the read-time
        # walls alone must keep them out.
        Person.objects.filter(pk=actor.pk).update(department=restricted)
    room.refresh_from_db()
    others = posted["memb"] if role == "manager" else posted["mgr"]
    return World(
        room=room,
        actor=Person.objects.get(pk=actor.pk),
        own_message=posted.get(actor.username),
        others_message=others,
        file_id=upload.file_id,
    )


def state() -> tuple:
    """Everything an action could write."""
    return (
        Message.objects.count(),
        Message.objects.filter(deleted_at__isnull=False).count(),
        sorted(Message.objects.values_list("body", flat=True)),
        sorted(Participant.objects.filter(left_at__isnull=True).values_list("pk", "role")),
        ArchiveRecord.objects.count(),
        Invitation.objects.count(),
    )


def expected(action: str, *, privacy: str, kind: str, wall: str, role: str) -> int:
    """The status the rules give, derived without the code under test."""
    is_member = role != "outsider"
    is_walled = wall == "walled"
    can_read = is_member and not is_walled
    is_visible = not is_walled and (privacy != "secret" or is_member)
    may_post = can_read and (kind == "normal" or role != "member")
    invisible = 404
    if action == "detail":
        return 200 if is_visible else invisible
    if action == "members":
        if not is_visible:
            return invisible
        return 200 if is_member or privacy == "open" else 403
    if action in ("read", "download"):
        return 200 if can_read else 404
    if action == "send":
        return 201 if may_post else (403 if can_read else 404)
    if action == "edit":
        return 200 if may_post else (403 if can_read else 404)
    if action == "delete":
        if not can_read:
            return 404
        return 200 if role == "manager" else 403
    if action == "invite":
        if not is_visible:
            return invisible
        return 201 if role == "manager" else 403
    if action == "join":
        if not is_visible:
            return invisible
        if is_member:
            return 409  # already in: not an authorisation question
        return 201 if privacy == "open" else 403
    if action == "search":
        return 200
    raise AssertionError(action)


def perform(client, world: World, action: str):
    room_id = world.room.pk
    if action == "read":
        return client.get(f"/api/v1/conversations/{room_id}/messages/")
    if action == "detail":
        return client.get(f"/api/v1/rooms/{room_id}/")
    if action == "members":
        return client.get(f"/api/v1/rooms/{room_id}/members/")
    if action == "send":
        return client.post(
            f"/api/v1/conversations/{room_id}/messages/", {"body": "new"}, format="json"
        )
    if action == "edit":
        target = world.own_message or world.others_message
        return client.patch(f"/api/v1/messages/{target.pk}/", {"body": "edited"}, format="json")
    if action == "delete":
        return client.delete(f"/api/v1/messages/{world.others_message.pk}/")
    if action == "invite":
        return client.post(
            f"/api/v1/rooms/{room_id}/invitations/", {"username": "newcomer"}, format="json"
        )
    if action == "join":
        return client.post(f"/api/v1/rooms/{room_id}/join/")
    if action == "download":
        return client.get(f"/api/v1/files/{world.file_id}/download/")
    if action == "search":
        return client.get("/api/v1/search/", {"q": "needle"})
    raise AssertionError(action)


@pytest.mark.django_db
@pytest.mark.parametrize(("privacy", "kind", "wall", "role"), CASES)
def test_rest_matrix(make_person, api_client_for, settings, tmp_path, privacy, kind, wall, role):
    # given one world per case; each action runs in a savepoint rolled back after it, so every
    # action meets the same world (and a deny that wrote anything would still be seen)
    settings.MEDIA_ROOT = tmp_path
    world = world_build(make_person, privacy=privacy, kind=kind, wall=wall, role=role)
    client = api_client_for(world.actor)
    for action in ACTIONS:
        want = expected(action, privacy=privacy, kind=kind, wall=wall, role=role)
        with transaction.atomic():
            before = state()

            # when
            response = perform(client, world, action)

            # then
            assert response.status_code == want, (action, getattr(response, "data", response))
            if action == "search":
                found = {m["conversation"] for m in response.json()["results"]}
                can_read = role != "outsider" and wall == "none"
                assert found == ({world.room.pk} if can_read else set())
            if want >= 400:
                assert set(response.json()["error"]) == {"code", "detail"}, action
                assert state() == before, action
            if want == 404:
                # An invisible room reveals nothing, not even its name.
                assert "Desk" not in response.content.decode(), action
            transaction.set_rollback(True)


def bearer(person: Person) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Bearer " + directory.token_create(person=person)[1].encode())]


USERNAMES = {"manager": "mgr", "presenter": "pres", "member": "memb", "outsider": "outsider"}


def world_for_sockets(make_person, *, privacy: str, kind: str, wall: str) -> tuple[int, dict]:
    """One world for the four roles (all walled out when asked); their bearer headers."""
    world = world_build(make_person, privacy=privacy, kind=kind, wall=wall, role="manager")
    if wall == "walled":
        Person.objects.filter(username__in=USERNAMES.values()).update(
            department=Department.objects.get(name="Restricted")
        )
    people = {role: Person.objects.get(username=name) for role, name in USERNAMES.items()}
    return world.room.pk, {role: bearer(person) for role, person in people.items()}


async def next_of(communicator: WebsocketCommunicator, types: tuple[str, ...]) -> dict:
    """Return the next frame of one of the types, skipping broadcasts of others' messages."""
    while (frame := await communicator.receive_json_from(timeout=5))["type"] not in types:
        assert frame["type"] in ("message.new", "conversation.updated"), frame
    return frame


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("privacy", "kind", "wall"), list(itertools.product(PRIVACIES, KINDS, WALLS))
)
async def test_websocket_matrix(make_person, settings, tmp_path, privacy, kind, wall):
    # given a room of every role and an outsider, each with a socket
    settings.MEDIA_ROOT = tmp_path
    room_id, headers = await database_sync_to_async(world_for_sockets)(
        make_person, privacy=privacy, kind=kind, wall=wall
    )
    for role in ROLES:
        can_read = role != "outsider" and wall == "none"
        may_post = can_read and (kind == "normal" or role != "member")
        communicator = WebsocketCommunicator(application, "/ws/", headers=headers[role])
        try:
            is_connected, _ = await communicator.connect(timeout=5)
            assert is_connected
            hello = await communicator.receive_json_from(timeout=5)
            before = await database_sync_to_async(state)()

            # when: subscribe (sync) and send
            await communicator.send_json_to(
                {"type": "sync", "ref": "s", "conversation": room_id, "after_seq": 0}
            )
            synced = await next_of(communicator, ("sync.batch", "error"))
            after_sync = await database_sync_to_async(state)()
            await communicator.send_json_to(
                {"type": "message.send", "ref": "m", "conversation": room_id, "body": role}
            )
            sent = await next_of(communicator, ("message.ack", "error"))
            after_send = await database_sync_to_async(state)()
            await communicator.send_json_to({"type": "ping", "ref": "p"})
            await next_of(communicator, ("pong",))
        finally:
            await communicator.disconnect()

        # then
        listed = {c["id"] for c in hello["conversations"]}
        assert listed == ({room_id} if can_read else set()), role
        if can_read:
            assert (synced["type"], synced["ref"]) == ("sync.batch", "s"), role
            assert [m["body"] for m in synced["messages"]][:3] == [
                "needle from mgr",
                "needle from pres",
                "needle from memb",
            ]
        else:
            assert (synced["type"], synced["code"]) == ("error", "conversation_not_found"), role
            assert after_sync == before, role
        if may_post:
            assert (sent["type"], sent["ref"]) == ("message.ack", "m"), role
        else:
            want = "auditorium" if can_read else "conversation_not_found"
            assert (sent["type"], sent["code"]) == ("error", want), role
            assert after_send == after_sync, role
