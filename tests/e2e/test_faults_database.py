"""PostgreSQL goes away and comes back under a live client: 503 / `unavailable`, then a retry.

A uvicorn process runs on a private PostgreSQL cluster (a copy of the test database), so the
test can stop it. While it is down, REST answers 503 with Retry-After and the WebSocket an
`error` frame `unavailable` with retry_after_ms, never a 500 or `server_error`. The client
retries the same message (same client_id) after the delay it was given until the database
is back: the message is then stored exactly once.
"""

import json
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from email.message import Message
from pathlib import Path

import pytest
from django.db import connection

from chat import services as chat
from directory import services as directory
from tests.e2e.conftest import Client, _database_url, cluster_running
from tests.e2e.instances import PostgresCluster

pytestmark = pytest.mark.e2e
RETRY_AFTER_SECONDS = 1
RECOVERY_TIMEOUT = 60.0


@pytest.fixture
def postgres_cluster():
    # Not under pytest's temporary folder: PostgreSQL runs as the postgres user, which may
    # not enter root's.
    directory = Path(tempfile.mkdtemp(prefix="parley-pg-"))
    cluster = PostgresCluster(directory=directory)
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _rest_get(server, path: str, token: str) -> tuple[int, Message, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1:<port>
        server.http_url + path, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def _answer(client: Client, ref: str) -> dict:
    """Return the reply to the frame sent with ref, whatever its type (ack or error)."""
    deadline = time.monotonic() + 30
    while True:
        for index, frame in enumerate(client.unread):
            if frame.get("ref") == ref:
                return client.unread.pop(index)
        client.unread.append(client._read(deadline))


@pytest.mark.django_db(transaction=True)
def test_database_restart_answers_unavailable_and_a_retry_stores_the_message_once(
    tmp_path, postgres_cluster, alice, bob
):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    _, token = directory.token_create(person=alice)
    connection.close()  # the copy below needs no open transaction of ours
    database_url = postgres_cluster.database_copy(source_url=_database_url(), name="parley")
    extra_env = {
        "DATABASE_POOL_TIMEOUT": "2",
        "PARLEY_UNAVAILABLE_RETRY_AFTER_SECONDS": str(RETRY_AFTER_SECONDS),
    }
    messages_path = f"/api/v1/conversations/{conversation.pk}/messages/"
    with (
        cluster_running(
            tmp_path,
            with_worker=False,
            server_names=("server-a",),
            database_url=database_url,
            extra_env=extra_env,
        ) as cluster,
        ExitStack() as stack,
    ):
        alice_ws = Client(alice, cluster.a, token)
        stack.callback(alice_ws.close)
        alice_ws.message_send(conversation=conversation.pk, body="one", ref="m1")

        postgres_cluster.stop()
        alice_ws.send(
            type="message.send", conversation=conversation.pk, body="two", client_id="m2", ref="a"
        )
        refusal = alice_ws.take("error", ref="a")
        status, headers, body = _rest_get(cluster.a, messages_path, token)

        assert refusal["code"] == "unavailable"
        assert refusal["retry_after_ms"] == RETRY_AFTER_SECONDS * 1000
        assert status == 503
        assert headers.get("Retry-After") == str(RETRY_AFTER_SECONDS)
        assert body["error"]["code"] == "unavailable"
        assert body["error"]["retry_after_ms"] == RETRY_AFTER_SECONDS * 1000

        postgres_cluster.start()
        deadline = time.monotonic() + RECOVERY_TIMEOUT
        for attempt in range(1000):  # what the web client does: same client_id, after the delay
            assert time.monotonic() < deadline, cluster.logs()
            time.sleep(refusal["retry_after_ms"] / 1000)
            ref = f"retry{attempt}"
            alice_ws.send(
                type="message.send",
                conversation=conversation.pk,
                body="two",
                client_id="m2",
                ref=ref,
            )
            answer = _answer(alice_ws, ref)
            if answer["type"] == "message.ack":
                break
            assert answer["code"] == "unavailable", answer
        again = alice_ws.message_send(conversation=conversation.pk, body="two", ref="m2")
        status, _, page = _rest_get(cluster.a, messages_path, token)

    assert (answer["seq"], again["id"]) == (2, answer["id"])
    assert status == 200
    assert [(m["seq"], m["body"], m["client_id"]) for m in page["results"]] == [
        (1, "one", "m1"),
        (2, "two", "m2"),
    ]
