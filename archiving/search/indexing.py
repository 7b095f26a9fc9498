"""Keep the archive search index complete: outbox, batch indexing, reconciliation, rebuild.

Design. capture() writes an ArchiveIndexOutbox row in the transaction that stores the record,
so a committed record is either in the index or waiting in the outbox; nothing else is
trusted. A Celery task takes rows in batches (SKIP LOCKED, so concurrent workers take
different rows), writes them to the backend, records them in ArchiveSearchEntry and deletes
the rows, all in one database transaction: if the worker dies anywhere in between, the rows
are still there and the next run writes the same records again. That replay is harmless: the
database index upserts by record id, and Elasticsearch receives the same external version
(the outbox row id) and answers 409, which is ignored. Reconciliation (Celery beat) re-queues
any record without an entry and forgets entries whose record is gone; `search_reindex`
rebuilds everything from the archive through the same outbox.

Messages (history search) go through the same outbox and the same task: chat queues a row
when a message is posted, edited or deleted, and the task writes the message's text as it
reads at that moment, or removes it once deleted (backend.MessageSource gives the text).
A replay writes the same current text again, so it is harmless as well. `search_reindex`
queues every message not deleted too.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from archiving.models import (
    ArchiveEvent,
    ArchiveIndexOutbox,
    ArchiveMembership,
    ArchiveRecord,
    ArchiveSearchEntry,
    AuditAction,
    IndexOperation,
)
from archiving.search.backend import IndexItem, backend_get, message_source
from archiving.search.selectors import record_participants
from config.debounce import DebouncedRun
from directory.models import Person

# One queued run drains every record committed before it starts (config/debounce.py).
_index_run_queue = DebouncedRun("archiving.tasks.search_index_pending", delay=0.5)


def membership_track(*, record: ArchiveRecord, participant_ids: QuerySet | Iterable[int]) -> None:
    """Open and close membership intervals when a record changes who is in its conversation.

    Runs under the conversation lock, in chain order. The person who leaves is still a
    participant of the leave record itself.
    """
    is_membership_event = (
        record.chain_index == 0
        or record.event == ArchiveEvent.CONVERSATION_CREATED
        or record.event.startswith("participant.")
    )
    if not is_membership_event:
        return
    present = dict(Person.objects.filter(pk__in=participant_ids).values_list("pk", "username"))
    named = record.payload.get("person") if isinstance(record.payload, dict) else None
    if named and record.event.endswith((".left", ".removed")):
        present = {pk: name for pk, name in present.items() if name != named}
    elif named and record.event.endswith(".joined"):
        present.update(Person.objects.filter(username=named).values_list("pk", "username"))
    open_rows = {
        row.person_id: row
        for row in ArchiveMembership.objects.filter(
            conversation_id=record.conversation_id, to_index__isnull=True
        )
    }
    gone = [pk for pk in open_rows if pk not in present]
    if gone:
        ArchiveMembership.objects.filter(
            conversation_id=record.conversation_id, to_index__isnull=True, person_id__in=gone
        ).update(to_index=record.chain_index)
    ArchiveMembership.objects.bulk_create(
        ArchiveMembership(
            conversation_id=record.conversation_id,
            person_id=pk,
            username=username,
            from_index=record.chain_index,
        )
        for pk, username in present.items()
        if pk not in open_rows
    )


def search_index_queue(*, record_ids: list[int], operation: str = IndexOperation.INDEX) -> None:
    """Queue records for (re)indexing or removal, in the caller's transaction."""
    ArchiveIndexOutbox.objects.bulk_create(
        ArchiveIndexOutbox(record_id=record_id, operation=operation) for record_id in record_ids
    )
    transaction.on_commit(_index_run_queue, robust=True)


def search_index_queue_messages(*, message_ids: list[int]) -> None:
    """Queue messages for history search, in the transaction that posts, edits or deletes
    them: the task indexes each one's text as it is then, or removes it once deleted."""
    ArchiveIndexOutbox.objects.bulk_create(
        ArchiveIndexOutbox(message_id=message_id) for message_id in message_ids
    )
    transaction.on_commit(_index_run_queue, robust=True)


def search_index_forget(*, record_ids: list[int]) -> None:
    """Queue the removal of records from the search index (retention purges call this)."""
    search_index_queue(record_ids=record_ids, operation=IndexOperation.DELETE)


def search_index_pending(*, batch: int = 500, max_batches: int | None = None) -> int:
    """Write queued records and messages to the index (or remove them); return how many were
    handled.

    A record the backend refuses for good is parked aside with the reason (shown in archive
    health) and the run goes on: left at the head of the queue, such rows would be taken
    again by every run and, once a whole batch of them gathered, stop indexing altogether.
    """
    backend = backend_get()
    done = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        batches += 1
        with transaction.atomic():
            # SKIP LOCKED: concurrent workers take different rows instead of waiting.
            rows = list(
                ArchiveIndexOutbox.objects.select_for_update(skip_locked=True)
                .filter(parked_at__isnull=True)
                .order_by("id")
                .values_list("id", "record_id", "message_id", "operation")[:batch]
            )
            if not rows:
                break
            done += _records_handle(
                backend, [(row_id, rid, op) for row_id, rid, _, op in rows if rid is not None]
            )
            done += _messages_handle(
                backend, [(row_id, mid) for row_id, rid, mid, _ in rows if rid is None]
            )
    return done


def _park(row_ids: list[int], reason: str) -> None:
    ArchiveIndexOutbox.objects.filter(pk__in=row_ids).update(
        parked_at=timezone.now(), parked_reason=reason[:2000]
    )


def _records_handle(backend, rows: list[tuple[int, int, str]]) -> int:
    """Index or forget the records of a batch's rows; return how many records were handled."""
    if not rows:
        return 0
    latest: dict[int, tuple[int, str]] = {}
    for row_id, record_id, operation in rows:  # by id: the newest operation wins
        latest[record_id] = (row_id, operation)
    records = ArchiveRecord.objects.defer("prev_hash", "record_hash").in_bulk(list(latest))
    participants = record_participants(records.values()) if backend.needs_participants else {}
    to_index = [
        IndexItem(records[rid], version=version, participant_ids=participants.get(rid, ()))
        for rid, (version, operation) in latest.items()
        if operation == IndexOperation.INDEX and rid in records
    ]
    to_forget = [
        (rid, version)
        for rid, (version, operation) in latest.items()
        if operation == IndexOperation.DELETE or rid not in records
    ]
    refused = backend.index(to_index) | backend.forget(to_forget)
    _entries_write([item for item in to_index if item.record.pk not in refused])
    ArchiveSearchEntry.objects.filter(
        record_id__in=[rid for rid, _ in to_forget if rid not in refused]
    ).delete()
    handled = [rid for rid in latest if rid not in refused]
    # Rows parked earlier for a record handled now (a newer write or a purge) are done.
    ArchiveIndexOutbox.objects.filter(
        Q(pk__in=[row[0] for row in rows if row[1] not in refused])
        | Q(record_id__in=handled, parked_at__isnull=False)
    ).delete()
    for record_id, reason in refused.items():
        _park([row[0] for row in rows if row[1] == record_id], reason)
    return len(latest)


def _messages_handle(backend, rows: list[tuple[int, int]]) -> int:
    """Write the batch's messages as they read now (or remove the deleted ones) to the history
    collection; return how many messages were handled."""
    if not rows:
        return 0
    latest = {message_id: row_id for row_id, message_id in rows}  # newest row wins
    source = message_source()
    documents = source.documents(list(latest)) if source is not None else {}
    to_index = [
        replace(documents[mid], version=version)
        for mid, version in latest.items()
        if mid in documents
    ]
    to_forget = [(mid, version) for mid, version in latest.items() if mid not in documents]
    refused = backend.messages_index(to_index) | backend.messages_forget(to_forget)
    handled = [mid for mid in latest if mid not in refused]
    ArchiveIndexOutbox.objects.filter(
        Q(pk__in=[row_id for row_id, mid in rows if mid not in refused])
        | Q(message_id__in=handled, parked_at__isnull=False)
    ).delete()
    for message_id, reason in refused.items():
        _park([row_id for row_id, mid in rows if mid == message_id], reason)
    return len(latest)


def search_index_unpark(*, record_ids: list[int] | None = None) -> int:
    """Put parked outbox rows back in the queue (all, or those of some records)."""
    parked = ArchiveIndexOutbox.objects.filter(parked_at__isnull=False)
    if record_ids is not None:
        parked = parked.filter(record_id__in=record_ids)
    count = parked.update(parked_at=None, parked_reason="")
    if count:
        transaction.on_commit(_index_run_queue, robust=True)
    return count


def _entries_write(items: list[IndexItem]) -> None:
    """Record what the index now holds (one upsert statement per batch, no model instances)."""
    if not items:
        return
    now = timezone.now()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "INSERT INTO archiving_archivesearchentry (record_id, version, indexed_at) "
                "SELECT record_id, version, %s FROM unnest(%s::bigint[], %s::bigint[]) "
                "AS batch(record_id, version) ON CONFLICT (record_id) DO UPDATE "
                "SET version = excluded.version, indexed_at = excluded.indexed_at",
                [now, [i.record.pk for i in items], [i.version for i in items]],
            )
            return
        cursor.executemany(
            "INSERT INTO archiving_archivesearchentry (record_id, version, indexed_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (record_id) DO UPDATE "
            "SET version = excluded.version, indexed_at = excluded.indexed_at",
            [(item.record.pk, item.version, now) for item in items],
        )


@dataclass(frozen=True)
class ReconcileReport:
    requeued: int
    forgotten: int


def search_reconcile(*, chunk: int = 5000) -> ReconcileReport:
    """Re-queue records the index does not hold; queue removal of entries without a record."""
    pending = ArchiveIndexOutbox.objects.filter(record_id=OuterRef("pk"))
    entry = ArchiveSearchEntry.objects.filter(record_id=OuterRef("pk"))
    requeued = 0
    while True:
        with transaction.atomic():
            missing = list(
                ArchiveRecord.objects.filter(~Exists(entry), ~Exists(pending))
                .order_by("pk")
                .values_list("pk", flat=True)[:chunk]
            )
            search_index_queue(record_ids=missing)
        requeued += len(missing)
        if len(missing) < chunk:
            break
    with transaction.atomic():
        orphans = list(
            ArchiveSearchEntry.objects.filter(
                ~Exists(ArchiveRecord.objects.filter(pk=OuterRef("record_id"))),
                ~Exists(
                    ArchiveIndexOutbox.objects.filter(
                        record_id=OuterRef("record_id"), operation=IndexOperation.DELETE
                    )
                ),
            ).values_list("record_id", flat=True)
        )
        search_index_forget(record_ids=orphans)
    return ReconcileReport(requeued=requeued, forgotten=len(orphans))


@dataclass(frozen=True)
class ReindexReport:
    records: int
    messages: int


def search_reindex(*, actor: Person | None, chunk: int = 5000, reason: str = "") -> ReindexReport:
    """Empty the index and queue every archive record and every message again (history
    search's collection); return how many of each were queued."""
    from archiving.audit import audit_append

    backend = backend_get()
    backend.ensure_setup()
    with transaction.atomic():
        backend.clear()
        ArchiveSearchEntry.objects.all().delete()
        ArchiveIndexOutbox.objects.all().delete()
        queued = 0
        last_id = 0
        while True:
            ids = list(
                ArchiveRecord.objects.filter(pk__gt=last_id)
                .order_by("pk")
                .values_list("pk", flat=True)[:chunk]
            )
            if not ids:
                break
            search_index_queue(record_ids=ids)
            queued += len(ids)
            last_id = ids[-1]
        source = message_source()
        messages = 0
        last_id = 0
        while source is not None:
            ids = source.ids_after(last_id, chunk)
            if not ids:
                break
            search_index_queue_messages(message_ids=ids)
            messages += len(ids)
            last_id = ids[-1]
        audit_append(
            actor=actor,
            action=AuditAction.SEARCH_REINDEX,
            target=backend.name,
            parameters={"backend": backend.name, "messages": messages}
            | ({"reason": reason} if reason else {}),
            result_count=queued,
        )
    return ReindexReport(records=queued, messages=messages)
