"""Redis (the channel layer) restarts under open sockets: clients are told to resync.

Two uvicorn processes on a private redis-server (the shared one serves other runs). While
Redis is down, messages are stored and acknowledged but their live frames are lost, and the
sockets stay open, so nothing tells a client by seq that it missed the last ones. When each
process's layer connection comes back it sends its sockets `resync`; a client that then syncs
from its last seq has every acknowledged message, without reconnecting.
"""

from contextlib import ExitStack

import pytest

from chat import services as chat
from directory import services as directory
from tests.e2e.conftest import Client, cluster_running
from tests.e2e.instances import RedisServer

pytestmark = pytest.mark.e2e
# Redis is back at once; each process notices on its next read (it retries every second).
RESYNC_TIMEOUT = 30.0


@pytest.fixture
def redis_server(tmp_path_factory):
    server = RedisServer(directory=tmp_path_factory.mktemp("redis"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _client(stack: ExitStack, person, server) -> Client:
    _, token = directory.token_create(person=person)
    client = Client(person, server, token)
    stack.callback(client.close)
    return client


@pytest.mark.django_db(transaction=True)
def test_open_sockets_resync_after_the_channel_layer_restarts(tmp_path, redis_server, alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    with (
        cluster_running(tmp_path, with_worker=False, redis_url=redis_server.url()) as cluster,
        ExitStack() as stack,
    ):
        alice_ws = _client(stack, alice, cluster.a)
        bob_ws = _client(stack, bob, cluster.b)
        first = alice_ws.message_send(conversation=conversation.pk, body="before", ref="m0")
        assert bob_ws.take("message.new")["message"]["id"] == first["id"]

        redis_server.stop()
        acked = [
            alice_ws.message_send(conversation=conversation.pk, body=f"during {n}", ref=f"m{n}")
            for n in range(1, 4)
        ]
        redis_server.start()

        assert bob_ws.take("resync", timeout=RESYNC_TIMEOUT) == {"type": "resync"}
        assert alice_ws.take("resync", timeout=RESYNC_TIMEOUT) == {"type": "resync"}
        bob_ws.send(type="sync", conversation=conversation.pk, after_seq=first["seq"], ref="s")
        batch = bob_ws.take("sync.batch", ref="s")
        live = [f["message"] for f in bob_ws.unread if f["type"] == "message.new"]

        held = {m["seq"]: m["id"] for m in [*live, *batch["messages"]]}
        assert held == {ack["seq"]: ack["id"] for ack in acked}
        assert batch["last_seq"] == 4
        # Live delivery works again on the restored subscriptions.
        after = alice_ws.message_send(conversation=conversation.pk, body="after", ref="m4")
        assert bob_ws.take("message.new", timeout=RESYNC_TIMEOUT)["message"]["id"] == after["id"]
        assert cluster.a.popen.poll() is None
        assert cluster.b.popen.poll() is None
