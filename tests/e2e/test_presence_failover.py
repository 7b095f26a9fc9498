"""Presence across server processes: an endpoint whose process died expires by heartbeat.

Two uvicorn processes run with a 1 s endpoint heartbeat and a 3 s expiry. Each refreshes its
own endpoints and sweeps everyone's (presence.consumers ticker). A server killed with SIGKILL
closes no socket and deletes no row: its endpoints stop being refreshed, and the other
server's sweep expires them and announces the change to the watchers, within a bound. A clean
close, by contrast, makes the person offline at once. A person still connected through
another server stays available, and a process started under a dead one's name (a restarted
container) does not keep the dead one's endpoints alive.

Each test starts its own cluster (function scope): most kill a server, and the next test
must not inherit a dead process or its rows.
"""

import contextlib
import time
import uuid
from collections.abc import Iterator

import pytest

from directory import services as directory
from directory.models import Person
from presence.models import Endpoint, PresenceLog, PresenceState
from tests.e2e.conftest import Client, Cluster, Server, cluster_running

pytestmark = pytest.mark.e2e

HEARTBEAT = 1.0  # s, PARLEY_ENDPOINT_HEARTBEAT_SECONDS of both servers
EXPIRY = 3.0  # s, PARLEY_ENDPOINT_EXPIRY_SECONDS of both servers
# From SIGKILL to the watcher's offline frame: at most EXPIRY after the last heartbeat, plus
# one sweep interval on the surviving server, plus delivery. 10 s leaves room for a slow CI.
FAILOVER_BOUND = 10.0
# A clean close is announced by the closing server itself, without waiting for any timer.
CLEAN_CLOSE_BOUND = EXPIRY / 2


@pytest.fixture
def presence_cluster(transactional_db, tmp_path) -> Iterator[Cluster]:
    """Two servers with fast presence timers and no Celery worker (presence queues no task).

    Requests transactional_db so that the servers are stopped (this teardown) before the
    database is flushed, and uses a channel prefix of its own instead of flushing the Redis
    database the module-scoped cluster of other modules also uses.
    """
    extra_env = {
        "PARLEY_ENDPOINT_HEARTBEAT_SECONDS": str(HEARTBEAT),
        "PARLEY_ENDPOINT_EXPIRY_SECONDS": str(EXPIRY),
        "PARLEY_CHANNEL_PREFIX": f"parley-e2e-presence-{uuid.uuid4().hex[:12]}",
    }
    with cluster_running(tmp_path, extra_env=extra_env, with_worker=False) as running:
        yield running


@pytest.fixture
def open_client(presence_cluster) -> Iterator:
    """Open WebSocket clients on the presence cluster; closed (quietly) after the test."""
    clients: list[Client] = []

    def open_(person: Person, server: Server) -> Client:
        _, token = directory.token_create(person=person)
        client = Client(person, server, token)
        clients.append(client)
        return client

    yield open_
    for client in clients:
        with contextlib.suppress(Exception):  # a socket on a killed server is already gone
            client.close()


def frames_during(client: Client, seconds: float) -> list[dict]:
    """Read every frame that arrives within the next seconds; keep them unread too."""
    deadline = time.monotonic() + seconds
    read: list[dict] = []
    while True:
        try:
            frame = client._read(deadline)
        except TimeoutError:
            break
        read.append(frame)
        client.unread.append(frame)
    return read


def presence_of(frames: list[dict], username: str) -> list[str]:
    return [
        f["availability"]
        for f in frames
        if f["type"] == "presence.update" and f["user"] == username
    ]


def watch(watcher: Client, username: str) -> dict:
    """Subscribe to someone's presence and return the projection sent at once."""
    watcher.send(type="presence.subscribe", users=[username], ref="sub")
    return watcher.take("presence.update", ref="sub", user=username)


def log_of(person: Person) -> list[tuple[str, str]]:
    return list(
        PresenceLog.objects.filter(person=person)
        .order_by("at", "id")
        .values_list("from_availability", "to_availability")
    )


@pytest.mark.django_db(transaction=True)
def test_endpoint_on_a_killed_server_expires_and_watchers_on_the_other_see_offline(
    presence_cluster, open_client, alice, bob
):
    bob_ws = open_client(bob, presence_cluster.b)
    assert watch(bob_ws, "alice")["availability"] == "offline"
    open_client(alice, presence_cluster.a)
    bob_ws.take("presence.update", user="alice", availability="available")
    endpoint = Endpoint.objects.get(person=alice)
    assert endpoint.server != Endpoint.objects.get(person=bob).server, "one endpoint per server"

    # While A lives it refreshes alice's endpoint: B's sweeps leave it alone past the expiry.
    assert presence_of(frames_during(bob_ws, EXPIRY + 2 * HEARTBEAT), "alice") == []
    refreshed = Endpoint.objects.get(pk=endpoint.pk)
    assert refreshed.last_seen_at > endpoint.last_seen_at

    presence_cluster.a.kill()  # no close frame, no endpoint_close: the row stays behind
    killed_at = time.monotonic()
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()

    offline = bob_ws.take(
        "presence.update", user="alice", availability="offline", timeout=FAILOVER_BOUND
    )
    elapsed = time.monotonic() - killed_at
    assert elapsed < FAILOVER_BOUND, presence_cluster.logs()
    # Not a clean close in disguise: the endpoint was fresh when A died (heartbeat 1 s), so
    # it cannot have expired much before EXPIRY - HEARTBEAT seconds later.
    assert elapsed > (EXPIRY - HEARTBEAT) / 2
    assert offline["display_name"] == "Alice Martin"
    assert not Endpoint.objects.filter(person=alice).exists()
    assert Endpoint.objects.filter(person=bob).exists(), "B's own endpoint must stay live"
    assert PresenceState.objects.get(person=alice).published_availability == "offline"
    assert log_of(alice) == [("offline", "available"), ("available", "offline")]

    # Announced once: B's later sweeps find nothing more to say about alice.
    assert presence_of(frames_during(bob_ws, 2 * HEARTBEAT + 0.5), "alice") == []
    bob_ws.send(type="ping", ref="still-there")
    bob_ws.take("pong", ref="still-there")


@pytest.mark.django_db(transaction=True)
def test_clean_disconnect_makes_watchers_see_offline_at_once(
    presence_cluster, open_client, alice, bob
):
    bob_ws = open_client(bob, presence_cluster.b)
    assert watch(bob_ws, "alice")["availability"] == "offline"
    alice_ws = open_client(alice, presence_cluster.a)
    bob_ws.take("presence.update", user="alice", availability="available")

    alice_ws.close()
    closed_at = time.monotonic()
    bob_ws.take("presence.update", user="alice", availability="offline", timeout=EXPIRY)
    elapsed = time.monotonic() - closed_at

    assert elapsed < CLEAN_CLOSE_BOUND, f"offline {elapsed:.2f} s after a clean close"
    assert not Endpoint.objects.filter(person=alice).exists()
    assert log_of(alice) == [("offline", "available"), ("available", "offline")]


@pytest.mark.django_db(transaction=True)
def test_killed_server_does_not_take_a_person_offline_who_is_connected_elsewhere(
    presence_cluster, open_client, alice, bob
):
    bob_ws = open_client(bob, presence_cluster.b)
    watch(bob_ws, "alice")
    open_client(alice, presence_cluster.a)
    bob_ws.take("presence.update", user="alice", availability="available")
    on_a = Endpoint.objects.get(person=alice)
    alice_on_b = open_client(alice, presence_cluster.b)  # a second tab, through the other server
    on_b = Endpoint.objects.filter(person=alice).exclude(pk=on_a.pk).get()
    assert on_a.server != on_b.server

    presence_cluster.a.kill()
    # A's endpoint expires and is swept; alice keeps her tab on B and stays available.
    deadline = time.monotonic() + FAILOVER_BOUND
    while Endpoint.objects.filter(pk=on_a.pk).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Endpoint.objects.filter(pk=on_a.pk).exists(), presence_cluster.logs()
    assert presence_of(frames_during(bob_ws, HEARTBEAT + 0.5), "alice") == []
    assert list(Endpoint.objects.filter(person=alice).values_list("pk", flat=True)) == [on_b.pk]

    alice_on_b.close()
    bob_ws.take("presence.update", user="alice", availability="offline", timeout=EXPIRY)
    assert log_of(alice) == [("offline", "available"), ("available", "offline")]


@pytest.mark.django_db(transaction=True)
def test_a_server_restarted_under_the_same_name_does_not_keep_the_dead_ones_endpoints_alive(
    presence_cluster, open_client, alice, bob, carol
):
    # A restarted container keeps its hostname and its PID (1), so the new process has the
    # dead one's server name; an operator may also set PARLEY_SERVER_NAME to "web-1".
    bob_ws = open_client(bob, presence_cluster.b)
    watch(bob_ws, "alice")
    open_client(alice, presence_cluster.a)
    bob_ws.take("presence.update", user="alice", availability="available")
    ghost = Endpoint.objects.get(person=alice)
    # The successor starts (and heartbeats, once it holds a socket) before the dead process's
    # endpoints expire, as it does with the production timers (20 s heartbeat, 60 s expiry).
    successor = presence_cluster.server_start("server-a-again", PARLEY_SERVER_NAME=ghost.server)
    open_client(carol, successor)
    assert Endpoint.objects.get(person=carol).server == ghost.server

    presence_cluster.a.kill()

    bob_ws.take("presence.update", user="alice", availability="offline", timeout=FAILOVER_BOUND)
    assert not Endpoint.objects.filter(pk=ghost.pk).exists()
    assert Endpoint.objects.filter(person=carol).exists(), "the successor's own endpoint stays"
