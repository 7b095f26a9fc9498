"""Indexing that cannot lose records: outbox, replay, reconciliation, forget, rebuild."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone

from archiving.access import COMPLIANCE_GROUP
from archiving.models import (
    ArchiveIndexOutbox,
    ArchiveMembership,
    ArchiveRecord,
    ArchiveSearchEntry,
    AuditAction,
    AuditEntry,
)
from archiving.search import services
from archiving.search.backend import backend_get
from archiving.search.database import DatabaseBackend
from archiving.search.indexing import (
    search_index_forget,
    search_index_pending,
    search_reconcile,
)
from archiving.search.selectors import search_capture_lag
from chat import services as chat
from chat.models import Message


@pytest.fixture
def officer(make_person):
    person = make_person("olga")
    person.groups.add(Group.objects.get_or_create(name=COMPLIANCE_GROUP)[0])
    return person


@pytest.fixture
def room(alice, bob):
    return chat.room_create(creator=alice, title="deals", members=[bob])


def _search(officer, query="", **filters):
    page = services.archive_search(
        officer=officer,
        query=query,
        participants=filters.get("participants", []),
        senders=[],
        conversations=filters.get("conversations", []),
        kinds=[],
        events=filters.get("events", []),
        start=None,
        end=None,
        cursor=None,
        page_size=200,
    )
    return [hit.body for hit in page.result.hits]


def _indexed_ids() -> list[int]:
    return sorted(ArchiveSearchEntry.objects.values_list("record_id", flat=True))


def test_every_captured_record_gets_an_outbox_row_in_its_transaction(alice, bob, room):
    message, _ = chat.message_post(sender=alice, conversation_id=room.pk, body="hello")

    records = sorted(ArchiveRecord.objects.values_list("pk", flat=True))
    queued = ArchiveIndexOutbox.objects.filter(record_id__isnull=False)
    assert sorted(queued.values_list("record_id", flat=True)) == records
    assert set(ArchiveIndexOutbox.objects.values_list("operation", flat=True)) == {"index"}
    # The same pipeline carries the message to history search.
    assert list(
        ArchiveIndexOutbox.objects.filter(message_id__isnull=False).values_list(
            "message_id", flat=True
        )
    ) == [message.pk]


def test_indexing_runs_after_commit_in_process(alice, room, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        chat.message_post(sender=alice, conversation_id=room.pk, body="merger soon")

    assert not ArchiveIndexOutbox.objects.exists()
    assert _indexed_ids() == sorted(ArchiveRecord.objects.values_list("pk", flat=True))


def test_a_replayed_batch_leaves_one_entry_per_record(officer, alice, room):
    chat.message_post(sender=alice, conversation_id=room.pk, body="merger soon")
    search_index_pending()
    record = ArchiveRecord.objects.get(body="merger soon")
    ArchiveIndexOutbox.objects.create(record_id=record.pk)  # a replay of the same record

    assert search_index_pending() == 1

    assert _search(officer, "merger") == ["merger soon"]
    assert ArchiveSearchEntry.objects.filter(record_id=record.pk).count() == 1


def test_reconciliation_requeues_what_the_index_lost_and_forgets_purged_records(
    officer, alice, room
):
    for body in ("merger one", "merger two", "merger three"):
        chat.message_post(sender=alice, conversation_id=room.pk, body=body)
    search_index_pending()
    lost = ArchiveRecord.objects.get(body="merger two")
    backend_get().forget([(lost.pk, 0)])  # the index lost it behind our back
    ArchiveSearchEntry.objects.filter(record_id=lost.pk).delete()
    ArchiveSearchEntry.objects.create(record_id=999_999, version=1)  # a record since purged
    assert _search(officer, "merger") == ["merger three", "merger one"]

    report = search_reconcile()
    search_index_pending()

    assert (report.requeued, report.forgotten) == (1, 1)
    assert _search(officer, "merger") == ["merger three", "merger two", "merger one"]
    assert _indexed_ids() == sorted(ArchiveRecord.objects.values_list("pk", flat=True))
    assert search_reconcile() == type(report)(requeued=0, forgotten=0)


def test_forget_removes_records_from_the_index(officer, alice, room):
    chat.message_post(sender=alice, conversation_id=room.pk, body="merger to purge")
    chat.message_post(sender=alice, conversation_id=room.pk, body="merger to keep")
    search_index_pending()
    purged = ArchiveRecord.objects.get(body="merger to purge")

    search_index_forget(record_ids=[purged.pk])
    assert search_index_pending() == 1

    assert _search(officer, "merger") == ["merger to keep"]
    assert not ArchiveSearchEntry.objects.filter(record_id=purged.pk).exists()


def test_search_reindex_rebuilds_from_the_archive_and_is_audited(officer, alice, room):
    chat.message_post(sender=alice, conversation_id=room.pk, body="merger soon")
    search_index_pending()
    DatabaseBackend().clear()  # the index is gone (a restored database, say)
    ArchiveSearchEntry.objects.all().delete()
    assert _search(officer, "merger") == []

    out = io.StringIO()
    call_command("search_reindex", stdout=out)

    assert _search(officer, "merger") == ["merger soon"]
    assert _indexed_ids() == sorted(ArchiveRecord.objects.values_list("pk", flat=True))
    records, messages = ArchiveRecord.objects.count(), Message.objects.count()
    assert f"{records} records and {messages} messages queued" in out.getvalue()
    assert f"{records + messages} records and messages indexed" in out.getvalue()
    entry = AuditEntry.objects.get(action=AuditAction.SEARCH_REINDEX)
    assert entry.actor is None
    assert entry.result_count == ArchiveRecord.objects.count()


def test_capture_lag_is_the_age_of_the_oldest_waiting_row(alice, room):
    search_index_pending()
    assert search_capture_lag().pending == 0
    assert search_capture_lag().seconds == 0.0
    chat.message_post(sender=alice, conversation_id=room.pk, body="waiting")
    ArchiveIndexOutbox.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    lag = search_capture_lag()

    assert lag.pending == ArchiveIndexOutbox.objects.count() > 0
    assert 299 < lag.seconds < 330


def test_participants_scope_follows_who_was_in_the_room_at_each_record(
    officer, alice, bob, carol, room
):
    chat.message_post(sender=alice, conversation_id=room.pk, body="merger before carol")
    chat.participant_add(actor=alice, conversation_id=room.pk, username="carol")
    chat.message_post(sender=alice, conversation_id=room.pk, body="merger with carol")
    chat.participant_leave(person=carol, conversation_id=room.pk)
    chat.message_post(sender=bob, conversation_id=room.pk, body="merger after carol")
    search_index_pending()

    assert _search(officer, "merger", participants=["carol"]) == ["merger with carol"]
    assert _search(officer, "merger", participants=["bob"]) == [
        "merger after carol",
        "merger with carol",
        "merger before carol",
    ]
    spans = ArchiveMembership.objects.filter(conversation_id=room.pk, username="carol")
    assert spans.count() == 1
    assert spans.get().to_index is not None


def test_admin_shows_the_capture_lag(client, make_person, alice, room):
    admin = make_person("root", is_staff=True, is_superuser=True)
    client.force_login(admin)

    response = client.get("/admin/archiving/archiveindexoutbox/", follow=True)

    assert response.status_code == 200
    pending = ArchiveIndexOutbox.objects.count()
    assert "Search capture lag: " in response.content.decode()
    assert f"({pending} records waiting" in response.content.decode()


def test_index_run_queue_queues_one_delayed_run_per_delay(settings, monkeypatch):
    from archiving import tasks
    from config.debounce import DebouncedRun

    settings.CELERY_TASK_ALWAYS_EAGER = False
    queued = []
    monkeypatch.setattr(
        tasks.search_index_pending, "apply_async", lambda **kwargs: queued.append(kwargs)
    )
    clock = [100.0]
    monkeypatch.setattr("config.debounce.time.monotonic", lambda: clock[0])
    run = DebouncedRun("archiving.tasks.search_index_pending", delay=0.5)

    run()
    run()  # within the delay: the queued run drains this commit's rows too
    assert queued == [{"countdown": 0.5}]
    clock[0] += 0.5
    run()
    assert queued == [{"countdown": 0.5}, {"countdown": 0.5}]
