"""A person deactivated behind every service's back loses their open sockets within seconds.

A real uvicorn server (default access sweep, PARLEY_WS_ACCESS_SWEEP_SECONDS=2) and real
WebSocket clients. Alice is deactivated with a plain `save()`, as a directory sync or a shell
would do: nothing pushes a close, so what closes her sockets is the server's own checks.
"""

import json
import os
import time

import pytest
from websockets.exceptions import ConnectionClosed

from chat import services as chat
from chat.models import Message
from tests.e2e.conftest import Client, cluster_running

pytestmark = pytest.mark.e2e

DEADLINE_SECONDS = 5.0


@pytest.fixture
def server(transactional_db, tmp_path):
    """One server process, no worker; a channel prefix of its own.

    Requests transactional_db so that the server is stopped (this teardown) before the
    database is flushed: its sockets' disconnect work would otherwise race the flush's
    TRUNCATE (a deadlock).
    """
    with cluster_running(
        tmp_path,
        with_worker=False,
        server_names=("server-a",),
        extra_env={"PARLEY_CHANNEL_PREFIX": f"parley-e2e-deactivation-{os.getpid()}"},
    ) as running:
        yield running.a


@pytest.fixture
def open_client(server):
    from directory import services as directory

    clients: list[Client] = []

    def open_(person) -> Client:
        _, token = directory.token_create(person=person)
        client = Client(person, server, token)
        clients.append(client)
        return client

    yield open_
    for client in clients:
        client.close()


def close_code_by(client: Client, deadline: float) -> int | None:
    """Read until the server closes the socket; return its close code (None without a close
    frame), or fail at the deadline."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"{client.person.username}'s socket was still open after the deadline")
        try:
            frame = client.ws.recv(timeout=remaining)
        except TimeoutError:
            continue
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        client.unread.append(json.loads(frame))


@pytest.mark.django_db(transaction=True)
def test_a_plain_save_deactivation_closes_every_socket_within_seconds_and_stores_nothing(
    open_client, alice, bob
):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    listening = open_client(alice)  # sends nothing after hello
    posting = open_client(alice)
    bob_ws = open_client(bob)

    # when alice is deactivated with a plain save, and posts at once
    alice.is_active = False
    alice.save()
    deadline = time.monotonic() + DEADLINE_SECONDS
    posting.send(
        type="message.send", conversation=conversation.pk, body="after", client_id="x", ref="x"
    )

    # then both her sockets close with 4403 within 5 s, and the message is not stored
    assert close_code_by(posting, deadline) == 4403
    assert close_code_by(listening, deadline) == 4403
    assert [f for f in posting.unread if f["type"] == "message.ack"] == []
    assert not Message.objects.filter(conversation=conversation).exists()
    # bob's socket stays open and got no message
    bob_ws.send(type="ping", ref="still-open")
    assert bob_ws.take("pong", ref="still-open")
    assert not [f for f in bob_ws.unread if f["type"] == "message.new"]
