"""Presence on /ws/: endpoints, presence frames, live privacy projections, and the cost of a
change, through the full ASGI stack on one event loop (see tests/chat/test_consumers.py)."""

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer  # noqa: TID251 - the test counts layer calls
from channels.testing import WebsocketCommunicator

from config.asgi import application
from directory import realtime as fanout
from directory import services as directory
from presence import services
from presence.models import Endpoint

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 5
EMAIL = "alice@example.com"
WORK_PHONE = "+33 1 11 11 11 11"
MOBILE_PHONE = "+33 6 22 22 22 22"


def alice_seen(key: str, availability: str = "available", note: str = "", **extra) -> dict:
    """Alice's presence.update as a watcher at this watch key sees it (DESIGN.md section 4)."""
    level = key.removeprefix("default-")
    if level == "blocked":
        return {
            "type": "presence.update",
            "user": "alice",
            "display_name": "Alice Martin",
            "email": EMAIL,
            "availability": "offline",
        }
    seen = {
        "type": "presence.update",
        "user": "alice",
        "display_name": "Alice Martin",
        "title": "",
        "email": EMAIL,
        "company": "",
        "photo": None,
        "availability": availability,
        "is_idle": False,
        **extra,
    }
    if level in ("friends_family", "workgroup", "colleagues"):
        seen.update(
            note=note, out_of_office_note="", location="", work_phone=WORK_PHONE, time_zone=""
        )
    if level == "friends_family":
        seen.update(mobile_phone=MOBILE_PHONE, home_phone="")
    if level == "workgroup":
        seen.update(mobile_phone=MOBILE_PHONE, can_interrupt_do_not_disturb=True)
    return seen


def with_ref(frame: dict, ref: str) -> dict:
    return {**frame, "ref": ref}


async def receive(communicator: WebsocketCommunicator, count: int = 1) -> list[dict]:
    return [await communicator.receive_json_from(timeout=TIMEOUT) for _ in range(count)]


async def assert_silent(communicator: WebsocketCommunicator) -> None:
    """Assert that nothing more arrives (the fan-out is given time to run)."""
    assert await communicator.receive_nothing(timeout=0.3), await communicator.receive_output()


def bearer_for(person) -> list[tuple[bytes, bytes]]:
    _, plaintext = directory.token_create(person=person)
    return [(b"authorization", b"Bearer " + plaintext.encode())]


class Sockets:
    """Opens accepted /ws/ sockets; every socket still open is disconnected at the end."""

    def __init__(self) -> None:
        self.open: list[WebsocketCommunicator] = []

    async def connect(self, person) -> tuple[WebsocketCommunicator, dict]:
        headers = await database_sync_to_async(bearer_for)(person)
        communicator = WebsocketCommunicator(application, "/ws/?device=test", headers=headers)
        self.open.append(communicator)
        is_connected, detail = await communicator.connect(timeout=TIMEOUT)
        assert is_connected, f"refused with close code {detail}"
        hello = await communicator.receive_json_from(timeout=TIMEOUT)
        assert hello["type"] == "hello"
        return communicator, hello

    async def close(self, communicator: WebsocketCommunicator) -> None:
        self.open.remove(communicator)
        await communicator.disconnect(timeout=TIMEOUT)


@pytest_asyncio.fixture
async def sockets(transactional_db):
    opened = Sockets()
    yield opened
    for communicator in list(opened.open):
        await communicator.disconnect(timeout=TIMEOUT)


@pytest.fixture
def alice(make_person):
    return make_person(
        "alice",
        display_name="Alice Martin",
        email=EMAIL,
        work_phone=WORK_PHONE,
        mobile_phone=MOBILE_PHONE,
    )


async def subscribe(
    communicator, usernames: list[str], ref: str = "sub", found: int | None = None
) -> list[dict]:
    """Subscribe and return the immediate replies (one per person found)."""
    await communicator.send_json_to({"type": "presence.subscribe", "ref": ref, "users": usernames})
    return await receive(communicator, len(usernames) if found is None else found)


async def grant(owner, username: str, relationship: str) -> None:
    await database_sync_to_async(services.contact_add)(
        owner=owner, username=username, relationship=relationship
    )


async def presence_set_on(communicator, ref: str, **changes) -> tuple[dict, dict]:
    """Send presence.set; return the reply (with ref) and the broadcast to my own sockets."""
    await communicator.send_json_to({"type": "presence.set", "ref": ref, **changes})
    frames = await receive(communicator, 2)
    replies = [f for f in frames if "ref" in f]
    broadcasts = [f for f in frames if "ref" not in f]
    assert (len(replies), len(broadcasts)) == (1, 1), frames
    return replies[0], broadcasts[0]


# -- endpoints: connecting and disconnecting --------------------------------------------------


async def test_connecting_makes_the_person_available_and_the_last_close_offline(
    sockets, alice, bob
):
    # given bob watches alice, who is offline
    bob_ws, _ = await sockets.connect(bob)
    assert await subscribe(bob_ws, ["alice"]) == [
        with_ref(alice_seen("default-colleagues", "offline"), "sub")
    ]

    # when alice connects, bob hears she is available
    first, hello = await sockets.connect(alice)
    assert await receive(bob_ws) == [alice_seen("default-colleagues")]
    assert hello["presence"]["availability"] == "available"
    # a second tab changes nothing anyone sees
    second, _ = await sockets.connect(alice)
    await assert_silent(bob_ws)
    assert await database_sync_to_async(Endpoint.objects.filter(person=alice).count)() == 2

    # when she closes one tab she stays available; when she closes the last, she is offline
    await sockets.close(first)
    await assert_silent(bob_ws)
    await sockets.close(second)
    assert await receive(bob_ws) == [alice_seen("default-colleagues", "offline")]
    assert not await database_sync_to_async(Endpoint.objects.filter(person=alice).exists)()
    await assert_silent(bob_ws)


async def test_presence_subscribe_replies_at_once_with_what_the_watcher_may_see(
    sockets, alice, bob, carol
):
    # given alice is online with a note and grants bob workgroup; carol is offline
    await grant(alice, "bob", "workgroup")
    await database_sync_to_async(services.presence_set)(person=alice, note="In Lisbon")
    await sockets.connect(alice)
    bob_ws, _ = await sockets.connect(bob)

    replies = await subscribe(bob_ws, ["alice", "carol", "nobody"], ref="now", found=2)

    assert replies[0] == with_ref(alice_seen("workgroup", note="In Lisbon"), "now")
    assert replies[1] == {
        "type": "presence.update",
        "ref": "now",
        "user": "carol",
        "display_name": "Carol Diaz",
        "title": "",
        "email": "",
        "company": "",
        "photo": None,
        "availability": "offline",
        "is_idle": False,
        "note": "",
        "out_of_office_note": "",
        "location": "",
        "work_phone": "",
        "time_zone": "",
    }
    await assert_silent(bob_ws)


async def test_presence_subscribe_without_a_list_of_users_is_an_error_frame(sockets, bob):
    bob_ws, _ = await sockets.connect(bob)

    await bob_ws.send_json_to({"type": "presence.subscribe", "ref": "bad", "users": []})

    [frame] = await receive(bob_ws)
    assert (frame["type"], frame["ref"], frame["code"]) == ("error", "bad", "invalid")
    assert frame["detail"] == "users must be a non-empty list of usernames."


# -- one change, a projection per level --------------------------------------------------------


async def test_one_presence_set_reaches_each_watcher_with_the_fields_of_their_level(
    sockets, alice, bob, carol, make_person
):
    # given alice grants bob workgroup, carol colleagues and dave blocked; all watch her
    dave = await database_sync_to_async(make_person)("dave")
    await grant(alice, "bob", "workgroup")
    await grant(alice, "carol", "colleagues")
    await grant(alice, "dave", "blocked")
    watchers = {}
    for person in (bob, carol, dave):
        watchers[person.username], _ = await sockets.connect(person)
    alice_ws, _ = await sockets.connect(alice)
    for ws in watchers.values():
        await subscribe(ws, ["alice"])

    # when alice sets busy with a note from her socket
    reply, own = await presence_set_on(alice_ws, "p", availability="busy", note="In Lisbon")

    # then she gets her full view; each watcher gets the same change as their level shows it
    mine = alice_seen(
        "friends_family",
        "busy",
        note="In Lisbon",
        manual_availability="busy",
        is_privacy_mode=False,
    )
    assert reply == with_ref(mine, "p")
    assert own == mine
    [to_bob] = await receive(watchers["bob"])
    [to_carol] = await receive(watchers["carol"])
    assert to_bob == alice_seen("workgroup", "busy", note="In Lisbon")
    assert to_carol == alice_seen("colleagues", "busy", note="In Lisbon")
    assert (to_bob["note"], to_bob["mobile_phone"]) == ("In Lisbon", MOBILE_PHONE)
    assert (to_carol["note"], "mobile_phone" in to_carol) == ("In Lisbon", False)
    # a blocked watcher is told nothing: even an unchanged "offline" would show activity
    for ws in (alice_ws, *watchers.values()):
        await assert_silent(ws)


async def test_a_refused_presence_set_is_an_error_frame_and_nobody_hears_of_it(sockets, alice, bob):
    bob_ws, _ = await sockets.connect(bob)
    alice_ws, _ = await sockets.connect(alice)
    await subscribe(bob_ws, ["alice"])

    await alice_ws.send_json_to(
        {"type": "presence.set", "ref": "bad", "availability": "sleepy", "note": "lost"}
    )

    [frame] = await receive(alice_ws)
    assert (frame["type"], frame["ref"], frame["code"]) == ("error", "bad", "invalid_availability")
    await assert_silent(bob_ws)
    # and nothing changed
    assert await subscribe(bob_ws, ["alice"], ref="check") == [
        with_ref(alice_seen("default-colleagues"), "check")
    ]
    await assert_silent(alice_ws)


async def test_privacy_mode_turns_default_watchers_to_blocked_at_once_but_not_contacts(
    sockets, alice, bob, carol
):
    # given bob is alice's contact (colleagues) and carol watches her without an entry
    await grant(alice, "bob", "colleagues")
    bob_ws, _ = await sockets.connect(bob)
    carol_ws, _ = await sockets.connect(carol)
    alice_ws, _ = await sockets.connect(alice)
    await subscribe(bob_ws, ["alice"])
    await subscribe(carol_ws, ["alice"])

    # when alice turns privacy mode on, then changes her note
    await presence_set_on(alice_ws, "private", is_privacy_mode=True)
    assert await receive(bob_ws) == [alice_seen("colleagues")]
    assert await receive(carol_ws) == [alice_seen("blocked")]
    await presence_set_on(alice_ws, "note", note="Heads down")

    # then bob sees the colleague projection; carol, now outside, is told nothing more
    assert await receive(bob_ws) == [alice_seen("colleagues", note="Heads down")]
    await assert_silent(bob_ws)
    await assert_silent(carol_ws)


# -- relationship changes move the watcher at once ---------------------------------------------


async def test_changing_the_relationship_moves_the_watcher_at_once(
    sockets, alice, bob, api_client_for
):
    # given bob watches alice, who has him in her contacts as a colleague
    await grant(alice, "bob", "colleagues")
    bob_ws, _ = await sockets.connect(bob)
    alice_ws, _ = await sockets.connect(alice)
    await subscribe(bob_ws, ["alice"])
    alice_api = await database_sync_to_async(api_client_for)(alice)

    async def alice_grants_bob(relationship: str) -> None:
        response = await database_sync_to_async(
            lambda: alice_api.patch(
                "/api/v1/contacts/bob/", {"relationship": relationship}, format="json"
            )
        )()
        assert response.status_code == 200

    # when alice makes bob workgroup: he sees the workgroup projection at once
    await alice_grants_bob("workgroup")
    assert await receive(bob_ws) == [alice_seen("workgroup")]

    # and her next change reaches him at that level, once
    await presence_set_on(alice_ws, "n1", note="Call my mobile")
    assert await receive(bob_ws) == [alice_seen("workgroup", note="Call my mobile")]
    await assert_silent(bob_ws)

    # when she blocks him, he sees her offline at once, and hears nothing of her next change
    await alice_grants_bob("blocked")
    assert await receive(bob_ws) == [alice_seen("blocked")]
    await presence_set_on(alice_ws, "n2", availability="busy")
    await assert_silent(bob_ws)

    # when she removes him from her contacts, he is back to the default colleague level
    response = await database_sync_to_async(lambda: alice_api.delete("/api/v1/contacts/bob/"))()
    assert response.status_code == 204
    assert await receive(bob_ws) == [alice_seen("colleagues", "busy", note="Call my mobile")]
    await presence_set_on(alice_ws, "n3", note="Back")
    assert await receive(bob_ws) == [alice_seen("colleagues", "busy", note="Back")]
    await assert_silent(bob_ws)


async def test_contacts_are_watched_from_connect_without_subscribing(
    sockets, alice, bob, api_client_for
):
    # given bob has alice in his contacts (his choice for her: friends & family), and alice
    # grants bob workgroup; alice is offline
    await database_sync_to_async(services.contact_add)(
        owner=bob, username="alice", group="Team", relationship="friends_family"
    )
    await grant(alice, "bob", "workgroup")

    # when bob connects
    bob_ws, hello = await sockets.connect(bob)

    # then hello lists alice with her presence as she lets bob see it, and his own presence
    assert hello["contacts"] == [
        {
            "username": "alice",
            "group": "Team",
            "relationship": "friends_family",
            "presence": {
                k: v for k, v in alice_seen("workgroup", "offline").items() if k != "type"
            },
        }
    ]
    assert hello["presence"] == {
        "user": "bob",
        "display_name": "Bob Chen",
        "title": "",
        "email": "",
        "company": "",
        "photo": None,
        "availability": "available",
        "is_idle": False,
        "note": "",
        "out_of_office_note": "",
        "location": "",
        "work_phone": "",
        "time_zone": "",
        "mobile_phone": "",
        "home_phone": "",
        "manual_availability": "",
        "is_privacy_mode": False,
    }

    # and alice coming online reaches him without presence.subscribe
    await sockets.connect(alice)
    assert await receive(bob_ws) == [alice_seen("workgroup")]
    await assert_silent(bob_ws)


async def test_presence_unsubscribe_stops_updates(sockets, alice, bob):
    bob_ws, _ = await sockets.connect(bob)
    await subscribe(bob_ws, ["alice"])

    await bob_ws.send_json_to({"type": "presence.unsubscribe", "ref": "u", "users": ["alice"]})

    assert await receive(bob_ws) == [
        {"type": "presence.unsubscribed", "ref": "u", "users": ["alice"]}
    ]
    alice_ws, _ = await sockets.connect(alice)
    await presence_set_on(alice_ws, "p", availability="busy")
    await assert_silent(bob_ws)


# -- idle -------------------------------------------------------------------------------------


async def test_idle_frames_are_acknowledged_and_recorded_on_the_endpoint(sockets, alice, bob):
    bob_ws, _ = await sockets.connect(bob)
    alice_ws, _ = await sockets.connect(alice)
    await subscribe(bob_ws, ["alice"])

    await alice_ws.send_json_to({"type": "idle", "ref": "i1", "idle": True})

    assert await receive(alice_ws) == [{"type": "idle.ack", "ref": "i1", "idle": True}]
    endpoint = await database_sync_to_async(Endpoint.objects.get)(person=alice)
    assert endpoint.idle_since is not None
    assert endpoint.device == "test"
    # just idle is not yet inactive: nobody is told anything
    await assert_silent(bob_ws)

    await alice_ws.send_json_to({"type": "idle", "ref": "i2", "idle": False})

    assert await receive(alice_ws) == [{"type": "idle.ack", "ref": "i2", "idle": False}]
    endpoint = await database_sync_to_async(Endpoint.objects.get)(person=alice)
    assert endpoint.idle_since is None
    await assert_silent(bob_ws)


async def test_idle_that_is_not_a_boolean_is_an_error_frame(sockets, alice):
    alice_ws, _ = await sockets.connect(alice)

    await alice_ws.send_json_to({"type": "idle", "ref": "i", "idle": "yes"})

    assert await receive(alice_ws) == [
        {"type": "error", "ref": "i", "code": "invalid", "detail": "idle must be true or false."}
    ]
    endpoint = await database_sync_to_async(Endpoint.objects.get)(person=alice)
    assert endpoint.idle_since is None


# -- the cost of a change ---------------------------------------------------------------------

WATCH_KEYS = [
    "friends_family",
    "workgroup",
    "colleagues",
    "external",
    "blocked",
    "default-colleagues",
    "default-external",
]


class LayerSends:
    """Records every group_send on the channel layer as (group, kind, level)."""

    def __init__(self, monkeypatch) -> None:
        self.sends: list[tuple[str, str, str | None]] = []
        layer = get_channel_layer()
        original = layer.group_send

        async def counted(group, message):
            self.sends.append((group, message["kind"], message.get("level")))
            return await original(group, message)

        monkeypatch.setattr(layer, "group_send", counted)


def watchers_by_key(alice, count: int) -> list[tuple[object, str]]:
    """Create count watchers spread round-robin over every watch key alice can put them in."""
    watchers = []
    for n in range(count):
        key = (
            WATCH_KEYS[n % len(WATCH_KEYS)] if count > 2 else ["workgroup", "default-colleagues"][n]
        )
        person = directory.person_create(
            username=f"watcher{n}", password=None, is_external=key == "default-external"
        )
        if not key.startswith("default-"):
            services.contact_add(owner=alice, username=person.username, relationship=key)
        watchers.append((person, key))
    return watchers


@pytest.mark.parametrize("count", [2, 20])
async def test_a_presence_change_costs_one_send_per_watch_key_whatever_the_watchers(
    sockets, alice, monkeypatch, count
):
    # given count watchers of alice, spread over the levels she grants, all subscribed
    # (alice connects last: she watches the watchers who are her contacts)
    watchers = await database_sync_to_async(watchers_by_key)(alice, count)
    connected = [((await sockets.connect(person))[0], key) for person, key in watchers]
    alice_ws, _ = await sockets.connect(alice)
    for ws, key in connected:
        assert await subscribe(ws, ["alice"]) == [with_ref(alice_seen(key), "sub")]
    assert {key for _, key in watchers} == (
        set(WATCH_KEYS) if count > 2 else {"workgroup", "default-colleagues"}
    )
    layer = LayerSends(monkeypatch)

    # when alice changes her presence once
    await presence_set_on(alice_ws, "p", availability="do-not-disturb", note="Focus")

    # then every watcher has the change at their level (blocked watchers are told nothing)...
    for ws, key in connected:
        expected = [] if key == "blocked" else [alice_seen(key, "do-not-disturb", note="Focus")]
        assert await receive(ws, len(expected)) == expected
    # ...and it cost one publish per watch key that sees more than the blocked view, plus one
    # to alice's own sockets
    watch_group = fanout.shard_group("w", alice.pk)
    assert layer.sends == [
        *[(watch_group, "w", key) for key in WATCH_KEYS if key != "blocked"],
        (fanout.shard_group("p", alice.pk), "p", None),
    ]
    for ws, _ in connected:
        await assert_silent(ws)
