"""Kill the Celery worker in the middle of an indexing batch: nothing is lost or duplicated.

A real worker (PostgreSQL, RabbitMQ broker) drains the archive index outbox. The test holds a
lock on the index table so the worker is caught inside a batch (outbox rows taken, index
write waiting), SIGKILLs it there, then starts a new worker and lets the periodic
reconciliation run, as Celery beat would.
"""

import time

import psycopg
import pytest
from django.db import connection

from archiving.models import ArchiveIndexOutbox, ArchiveRecord, ArchiveSearchEntry
from archiving.search import indexing
from archiving.search.database import DatabaseBackend
from tests.e2e.conftest import (
    _database_url,
    archive_records_capture,
    cluster_running,
    index_table_lock_waited_on,
)

pytestmark = pytest.mark.e2e
RECORDS = 1200
TIMEOUT = 60.0


def _wait(what: str, condition, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.1)


# The database backend: the test holds its index table's lock to catch the worker mid-batch.
DATABASE_SEARCH = {"PARLEY_ARCHIVE_SEARCH_BACKEND": "database"}


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_batch_loses_and_duplicates_nothing(
    make_person, tmp_path, monkeypatch
):
    DatabaseBackend().clear()  # rows left by earlier tests (flush knows only model tables)
    alice, bob = make_person("alice"), make_person("bob")
    monkeypatch.setattr(indexing, "_index_run_queue", lambda: None)  # the worker indexes
    archive_records_capture(people=(alice, bob), count=RECORDS)
    assert ArchiveIndexOutbox.objects.count() == RECORDS
    url = _database_url()
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()

    with (
        psycopg.connect(url, autocommit=False) as blocker,
        psycopg.connect(url, autocommit=True) as admin,
    ):
        blocker.execute("LOCK TABLE archiving_search_vector IN SHARE MODE")
        with cluster_running(
            tmp_path / "first", server_names=(), extra_env=DATABASE_SEARCH
        ) as first:
            first.task_send("archiving.tasks.search_index_pending")
            _wait("the worker is inside a batch", lambda: index_table_lock_waited_on(admin))
            first.worker.kill()
        blocker.rollback()  # the killed worker's transaction can now end (rolled back)

    assert ArchiveSearchEntry.objects.count() == 0
    assert ArchiveIndexOutbox.objects.count() == RECORDS

    with cluster_running(tmp_path / "second", server_names=(), extra_env=DATABASE_SEARCH) as second:
        second.task_send("archiving.tasks.search_reconcile")  # what beat sends
        _wait("the outbox is drained", lambda: not ArchiveIndexOutbox.objects.exists())
        second.wait_until_worker_idle()

    record_ids = sorted(ArchiveRecord.objects.values_list("pk", flat=True))
    assert sorted(ArchiveSearchEntry.objects.values_list("record_id", flat=True)) == record_ids
    with connection.cursor() as cursor:
        cursor.execute("SELECT record_id FROM archiving_search_vector ORDER BY record_id")
        assert [row[0] for row in cursor.fetchall()] == record_ids
        cursor.execute(
            "SELECT count(*) FROM archiving_search_vector WHERE vector @@ 'quarterly'::tsquery"
        )
        assert cursor.fetchone()[0] == RECORDS
