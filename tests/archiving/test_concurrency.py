"""Holds against retention batches, and verification against concurrent writes (PostgreSQL)."""

import threading

import pytest
from django.db import connection, transaction

from archiving import holds, retention
from archiving.models import ArchiveRecord, LegalHold
from archiving.retention import run as retention_run_module
from tests.archiving.conftest import day
from tests.conftest import postgres_or_skip


def _in_thread(target) -> threading.Thread:
    def run():
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_placing_a_hold_waits_for_the_retention_batch_in_progress(
    officer, archive_record, alice, monkeypatch
):
    postgres_or_skip()
    archive_record(conversation_id=1, actor=alice, at=0, body="old")
    retention.retention_policy_save(actor=officer, data={"scope": "global", "days": 1})
    case = holds.case_create(actor=officer, name="Falcon")
    deciding, may_finish = threading.Event(), threading.Event()
    real_doomed = retention_run_module.records_doomed

    def slow_doomed(*args):
        result = real_doomed(*args)
        deciding.set()
        may_finish.wait(10)
        return result

    monkeypatch.setattr(retention_run_module, "records_doomed", slow_doomed)
    run = _in_thread(lambda: retention.retention_run(now=day(30)))
    assert deciding.wait(10)
    place = _in_thread(lambda: holds.hold_place(actor=officer, case_id=case.pk, conversations=[1]))

    place.join(0.5)
    assert place.is_alive()  # blocked on the retention lock, nothing half-placed
    with transaction.atomic():
        assert not LegalHold.objects.exists()
    may_finish.set()
    run.join(10)
    place.join(10)

    # The batch decided before the hold existed and purged; the hold then committed.
    assert not ArchiveRecord.objects.exists()
    assert LegalHold.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_verify_walks_one_snapshot_while_records_are_captured(archive_record, alice, monkeypatch):
    postgres_or_skip()
    from archiving import selectors

    archive_record(conversation_id=1, actor=alice, at=0, body="first")
    real_records = selectors._records_by_chain

    def records_after_a_capture():
        # A message is archived (and committed) after the heads were read, before the records.
        _in_thread(
            lambda: archive_record(conversation_id=1, actor=alice, at=1, body="during")
        ).join(10)
        return real_records()

    monkeypatch.setattr(selectors, "_records_by_chain", records_after_a_capture)

    report, audit = selectors.archive_and_audit_verify()

    assert (report.is_intact, report.records, audit.is_intact) == (True, 1, True)
    assert ArchiveRecord.objects.count() == 2
