"""Information barriers: a category's wall forbidding 1:1 and group IM between the people it
allows (research) and the people it denies (trading). Who may start, join and post, before and
after a directory sync moves someone across the wall."""

import pytest
from django.contrib.auth.models import Group

from archiving.models import ArchiveRecord
from chat import services
from chat.models import Conversation, Message, Participant
from chat.services import barriers
from directory.integrations.ldap import DirectoryEntry, DirectoryGroupEntry, DirectorySnapshot
from directory.models import DirectoryGroup
from directory.sync import directory_sync
from tests.presence.test_consumers import TIMEOUT, sockets  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def wall(make_person):
    """r1, r2 in research; t1 in trading; o1 in neither. The wall forbids direct and group IM."""
    research, trading = Group.objects.create(name="research"), Group.objects.create(name="trading")
    people = {name: make_person(name) for name in ("r1", "r2", "t1", "o1")}
    research.user_set.add(people["r1"], people["r2"])
    trading.user_set.add(people["t1"])
    category = services.category_create(
        name="Research wall",
        allowed_groups=[research],
        denied_groups=[trading],
        forbids_direct_im=True,
        forbids_group_im=True,
    )
    return category, research, trading, people


def _start(api, usernames: list[str], title: str = ""):
    body = {"participants": usernames, **({"title": title} if title else {})}
    return api.post("/api/v1/conversations/", body, format="json")


def _post(api, conversation_id: int, body: str = "hello"):
    return api.post(
        f"/api/v1/conversations/{conversation_id}/messages/", {"body": body}, format="json"
    )


@pytest.mark.parametrize(
    ("starter", "others", "allowed"),
    [
        ("r1", ["r2"], True),  # same side
        ("r1", ["o1"], True),  # nobody on the other side
        ("t1", ["o1"], True),
        ("r1", ["t1"], False),  # across the wall, 1:1
        ("t1", ["r2"], False),
        ("r1", ["o1", "t1"], False),  # across the wall, group
        ("o1", ["r2", "t1"], False),  # started by someone outside both sides
        ("r1", ["r2", "o1"], True),
    ],
)
def test_who_may_start_a_conversation(wall, api_client_for, starter, others, allowed):
    _, _, _, people = wall
    before = Conversation.objects.count(), ArchiveRecord.objects.count()

    response = _start(api_client_for(people[starter]), others)

    if allowed:
        assert response.status_code in (200, 201), response.json()
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "information_barrier"
        assert "Research wall" in response.json()["error"]["detail"]
        assert (Conversation.objects.count(), ArchiveRecord.objects.count()) == before


@pytest.mark.parametrize(("newcomer", "allowed"), [("r2", True), ("t1", False)])
def test_who_may_be_added_to_a_group_or_a_direct_conversation(
    wall, api_client_for, newcomer, allowed
):
    _, _, _, people = wall
    api = api_client_for(people["r1"])
    group = _start(api, ["o1", "r2"] if newcomer != "r2" else ["o1"], title="Plan").json()
    direct = _start(api, ["o1"]).json()
    before = Participant.objects.count(), Conversation.objects.count()

    to_group = api.post(
        f"/api/v1/conversations/{group['id']}/participants/", {"username": newcomer}, format="json"
    )
    to_direct = api.post(
        f"/api/v1/conversations/{direct['id']}/participants/", {"username": newcomer}, format="json"
    )

    if allowed:
        assert (to_group.status_code, to_direct.status_code) == (201, 201)
    else:
        assert (to_group.status_code, to_direct.status_code) == (403, 403)
        assert to_group.json()["error"]["code"] == "information_barrier"
        assert to_direct.json()["error"]["code"] == "information_barrier"
        assert (Participant.objects.count(), Conversation.objects.count()) == before


def test_direct_only_wall_allows_group_im(wall, api_client_for):
    category, _, _, people = wall
    services.category_update(
        actor=None, category_id=category.pk, changes={"forbids_group_im": False}
    )
    api = api_client_for(people["r1"])

    assert _start(api, ["t1"]).status_code == 403
    assert _start(api, ["t1", "o1"]).status_code == 201


def test_moving_someone_across_the_wall_closes_and_reopens_their_conversations(
    wall, api_client_for
):
    _, _, trading, people = wall
    r1_api, o1_api = api_client_for(people["r1"]), api_client_for(people["o1"])
    direct = _start(r1_api, ["o1"]).json()
    group = _start(r1_api, ["o1", "r2"], title="Ideas").json()
    elsewhere = _start(o1_api, ["t1"]).json()
    assert _post(r1_api, direct["id"]).status_code == 201

    # o1 joins trading (as a directory sync would) and the barrier is enforced.
    trading.user_set.add(people["o1"])
    changed = barriers.barriers_enforce(person_ids=[people["o1"].pk])

    assert changed == 2  # the direct and the group with r1; o1-t1 is the same side now
    messages_before = Message.objects.count()
    for api in (r1_api, o1_api):
        for conversation in (direct, group):
            refused = _post(api, conversation["id"])
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "conversation_closed"
    assert Message.objects.count() == messages_before
    assert _post(o1_api, elsewhere["id"]).status_code == 201
    closed = ArchiveRecord.objects.get(conversation_id=direct["id"], event="conversation.closed")
    assert "Research wall" in closed.payload["reason"]
    assert closed.actor_id is None
    # Still readable, and the conversation says why it is closed.
    listed = {c["id"]: c for c in r1_api.get("/api/v1/conversations/").json()["results"]}
    assert "Research wall" in listed[direct["id"]]["posting_closed"]
    assert r1_api.get(f"/api/v1/conversations/{direct['id']}/messages/").status_code == 200
    # Nor can anyone start a new one across the wall.
    assert _start(r1_api, ["o1", "r2"], title="Again").status_code == 403

    # Moved back: reopened, archived, posting works again.
    trading.user_set.remove(people["o1"])
    assert barriers.barriers_enforce(person_ids=[people["o1"].pk]) == 2
    assert _post(o1_api, direct["id"]).status_code == 201
    assert ArchiveRecord.objects.filter(
        conversation_id=direct["id"], event="conversation.reopened"
    ).exists()


def test_a_directory_sync_that_moves_someone_enforces_the_barrier(
    wall, api_client_for, django_capture_on_commit_callbacks
):
    _, research, trading, people = wall
    for group in (research, trading):
        DirectoryGroup.objects.create(group=group, dn=f"cn={group.name},ou=groups,dc=bank")
    for person in people.values():
        person.directory_dn = f"uid={person.username},ou=people,dc=bank"
        person.save()
    direct = _start(api_client_for(people["r1"]), ["o1"]).json()

    def entry(username: str) -> DirectoryEntry:
        return DirectoryEntry(dn=f"uid={username},ou=people,dc=bank", fields={"username": username})

    snapshot = DirectorySnapshot(
        people=[entry(name) for name in people],
        groups=[
            DirectoryGroupEntry(
                dn="cn=research,ou=groups,dc=bank",
                cn="research",
                member_dns=["uid=r1,ou=people,dc=bank", "uid=r2,ou=people,dc=bank"],
            ),
            DirectoryGroupEntry(
                dn="cn=trading,ou=groups,dc=bank",
                cn="trading",
                member_dns=["uid=t1,ou=people,dc=bank", "uid=o1,ou=people,dc=bank"],
            ),
        ],
    )

    with django_capture_on_commit_callbacks(execute=True):
        directory_sync(snapshot=snapshot)

    assert Conversation.objects.get(pk=direct["id"]).posting_closed_at is not None
    refused = _post(api_client_for(people["r1"]), direct["id"])
    assert refused.json()["error"]["code"] == "conversation_closed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_closing_announces_the_notice_live_and_refuses_posting_frames(
    sockets,  # noqa: F811
    make_person,
):
    from channels.db import database_sync_to_async

    def given():
        research, trading = (
            Group.objects.create(name="research"),
            Group.objects.create(name="trading"),
        )
        r1, o1 = make_person("r1"), make_person("o1")
        research.user_set.add(r1)
        services.category_create(
            name="Research wall",
            allowed_groups=[research],
            denied_groups=[trading],
            forbids_direct_im=True,
        )
        direct, _ = services.conversation_create(creator=r1, usernames=["o1"])
        return trading, r1, o1, direct

    trading, r1, o1, direct = await database_sync_to_async(given)()
    r1_ws, _ = await sockets.connect(r1)
    o1_ws, _ = await sockets.connect(o1)

    def move():
        trading.user_set.add(o1)
        return barriers.barriers_enforce(person_ids=[o1.pk])

    assert await database_sync_to_async(move)() == 1

    for ws in (r1_ws, o1_ws):
        frame = await ws.receive_json_from(timeout=TIMEOUT)
        while frame["type"] != "conversation.updated":
            frame = await ws.receive_json_from(timeout=TIMEOUT)
        assert frame["conversation"]["id"] == direct.pk
        assert "Research wall" in frame["notice"]
        assert frame["conversation"]["posting_closed"] == frame["notice"]
    await r1_ws.send_json_to(
        {"type": "message.send", "ref": "m1", "conversation": direct.pk, "body": "still there?"}
    )
    refused = await r1_ws.receive_json_from(timeout=TIMEOUT)
    while refused["type"] != "error":
        refused = await r1_ws.receive_json_from(timeout=TIMEOUT)
    assert (refused["ref"], refused["code"]) == ("m1", "conversation_closed")
    assert not await database_sync_to_async(Message.objects.filter(conversation=direct).exists)()
