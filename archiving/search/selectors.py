"""Reads for archive search: who was in a conversation at a record, and the capture lag."""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from archiving.models import (
    ArchiveIndexOutbox,
    ArchiveMembership,
    ArchiveRecord,
    SearchIndexIdentity,
)


def record_participants(records: Iterable[ArchiveRecord]) -> dict[int, tuple[int, ...]]:
    """Return, per record id, who was in its conversation at that record, and its actor."""
    records = list(records)
    intervals: dict[int, list[tuple[int, int | None, int]]] = defaultdict(list)
    for row in ArchiveMembership.objects.filter(
        conversation_id__in={r.conversation_id for r in records}
    ).values_list("conversation_id", "from_index", "to_index", "person_id"):
        intervals[row[0]].append(row[1:])
    # Membership changes rarely: records between two changes share one set of people, so
    # compute it once per stretch of the chain (a busy room's records would otherwise each
    # walk every membership interval of the room).
    boundaries: dict[int, list[int]] = {}
    for conversation_id, rows in intervals.items():
        points = {start for start, _, _ in rows}
        points.update(end + 1 for _, end, _ in rows if end is not None)
        boundaries[conversation_id] = sorted(points)
    stretches: dict[tuple[int, int], frozenset[int]] = {}
    result = {}
    for record in records:
        conversation_id, index = record.conversation_id, record.chain_index
        key = (conversation_id, bisect_right(boundaries.get(conversation_id, ()), index))
        people = stretches.get(key)
        if people is None:
            people = stretches[key] = frozenset(
                person_id
                for start, end, person_id in intervals[conversation_id]
                if start <= index and (end is None or index <= end)
            )
        if record.actor_id is not None and record.actor_id not in people:
            result[record.pk] = tuple(sorted(people | {record.actor_id}))
        else:
            result[record.pk] = tuple(sorted(people))
    return result


@dataclass(frozen=True)
class CaptureLag:
    pending: int
    oldest_at: datetime | None

    @property
    def seconds(self) -> float:
        if self.oldest_at is None:
            return 0.0
        return max(0.0, (timezone.now() - self.oldest_at).total_seconds())


def search_capture_lag() -> CaptureLag:
    """Return how many records wait for the index and since when the oldest has waited.

    Parked rows (refused by the backend) do not wait for anything: search_parked_list shows them.
    """
    rows = ArchiveIndexOutbox.objects.filter(parked_at__isnull=True).order_by("created_at")
    oldest = rows.values_list("created_at", flat=True).first()
    return CaptureLag(pending=rows.count(), oldest_at=oldest)


@dataclass(frozen=True)
class ParkedRow:
    record_id: int
    operation: str
    parked_at: datetime
    reason: str


def search_parked_count() -> int:
    """Return how many outbox rows the backend refused and that wait for an operator."""
    return ArchiveIndexOutbox.objects.filter(parked_at__isnull=False).count()


def search_parked_list(*, limit: int = 20) -> list[ParkedRow]:
    """Return the most recently parked outbox rows, with the backend's reason."""
    return [
        ParkedRow(record_id=row[0], operation=row[1], parked_at=row[2], reason=row[3])
        for row in ArchiveIndexOutbox.objects.filter(parked_at__isnull=False)
        .order_by("-parked_at", "-id")
        .values_list("record_id", "operation", "parked_at", "parked_reason")[:limit]
    ]


def search_database_id(*, lock: bool = False) -> str:
    """Return this database's id (what an index kept outside it must name); with lock, hold
    the row until the caller's transaction ends (one process rebuilds a foreign index)."""
    rows = SearchIndexIdentity.objects.order_by("pk")
    if lock:
        rows = rows.select_for_update()
    identity = rows.first()
    if identity is None:  # a flushed database (tests) or one whose row was lost
        SearchIndexIdentity.objects.get_or_create(pk=1)
        identity = rows.first()
    return str(identity.database_id)
