"""The Celery broker (RabbitMQ) restarts while the worker holds tasks: the worker survives.

A private RabbitMQ node (the shared one serves other runs) is the broker of a real worker on
PostgreSQL. The test catches the worker inside an indexing task (a lock on the index table
holds it there, its message unacknowledged), queues more tasks behind it, stops the node (a
message posted meanwhile is stored and answered 201), starts it again, then lets the task
go on. The same worker process must reconnect by itself and drain the
archive index outbox: nobody restarts it. With Redis as the broker the worker exited here
(kombu's restore_unacked), and the index stalled.
"""

import json
import time
import urllib.error
import urllib.request

import psycopg
import pytest

from archiving.models import ArchiveIndexOutbox, ArchiveRecord, ArchiveSearchEntry
from archiving.search import indexing
from archiving.search.database import DatabaseBackend
from chat import services as chat
from directory import services as directory
from tests.e2e.conftest import (
    _database_url,
    _worker_ping,
    archive_records_capture,
    cluster_running,
    index_table_lock_waited_on,
)
from tests.e2e.instances import RabbitMQNode

pytestmark = pytest.mark.e2e
RECORDS = 300
TIMEOUT = 90.0


def _wait(what: str, condition, cluster, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}\n{cluster.logs()}")
        time.sleep(0.1)


def _post(server, token: str, conversation_id: int, body: str) -> tuple[int, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1:<port>
        f"{server.http_url}/api/v1/conversations/{conversation_id}/messages/",
        method="POST",
        data=json.dumps({"body": body, "client_id": "b1"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {"body": error.read().decode(errors="replace")[:2000]}


@pytest.fixture
def rabbitmq(tmp_path_factory):
    node = RabbitMQNode(directory=tmp_path_factory.mktemp("rabbitmq"))
    try:
        node.start()
        yield node
    finally:
        node.stop()


@pytest.mark.django_db(transaction=True)
def test_worker_survives_a_broker_restart_with_tasks_in_flight(
    make_person, tmp_path, monkeypatch, rabbitmq
):
    DatabaseBackend().clear()  # rows left by earlier tests (flush knows only model tables)
    alice, bob = make_person("alice"), make_person("bob")
    monkeypatch.setattr(indexing, "_index_run_queue", lambda: None)  # the worker indexes
    archive_records_capture(people=(alice, bob), count=RECORDS)
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    _, token = directory.token_create(person=alice)
    url = _database_url()

    with (
        psycopg.connect(url, autocommit=False) as blocker,
        psycopg.connect(url, autocommit=True) as admin,
        cluster_running(
            tmp_path,
            server_names=("server-a",),
            broker_url=rabbitmq.url,
            with_worker=False,
            # the database backend: the test holds its index table's lock to stall a task
            extra_env={"PARLEY_ARCHIVE_SEARCH_BACKEND": "database"},
        ) as cluster,
    ):
        # The pool a deployment runs: a prefork worker is where a Redis broker's restart
        # ended the worker ("Unrecoverable error" in kombu's restore_unacked).
        worker = cluster.worker_start("celery-worker", pool="prefork", concurrency=2)
        blocker.execute("LOCK TABLE archiving_search_vector IN SHARE MODE")
        cluster.task_send("archiving.tasks.search_index_pending")
        _wait("the worker is inside a task", lambda: index_table_lock_waited_on(admin), cluster)
        for _ in range(3):  # queued behind it, persisted by the broker
            cluster.task_send("archiving.tasks.search_index_pending")

        rabbitmq.stop()
        # Meanwhile people post: stored and answered, their indexing runs queued later.
        status, message = _post(cluster.a, token, conversation.pk, "while the broker is down")
        assert (status, message["body"]) == (201, "while the broker is down"), cluster.logs()
        rabbitmq.start()
        blocker.rollback()  # the task goes on; its acknowledgement meets a new broker

        _wait("the outbox is drained", lambda: not ArchiveIndexOutbox.objects.exists(), cluster)
        node = next(iter(cluster.worker_nodes))
        _wait("the worker is back on the broker", lambda: _worker_ping(rabbitmq.url, node), cluster)
        cluster.wait_until_worker_idle(timeout=TIMEOUT)  # the requeued tasks ran too
        assert worker.popen.poll() is None, cluster.logs()  # the same worker, never restarted

    record_ids = sorted(ArchiveRecord.objects.values_list("pk", flat=True))
    assert len(record_ids) >= RECORDS + 1  # and the post's (and its conversation's events)
    assert sorted(ArchiveSearchEntry.objects.values_list("record_id", flat=True)) == record_ids
