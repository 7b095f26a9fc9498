"""Reads for archive search: who was in a conversation at a record, and the capture lag."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from archiving.models import ArchiveIndexOutbox, ArchiveMembership, ArchiveRecord


def record_participants(records: Iterable[ArchiveRecord]) -> dict[int, tuple[int, ...]]:
    """Return, per record id, who was in its conversation at that record, and its actor."""
    records = list(records)
    intervals: dict[int, list[tuple[int, int | None, int]]] = defaultdict(list)
    for row in ArchiveMembership.objects.filter(
        conversation_id__in={r.conversation_id for r in records}
    ).values_list("conversation_id", "from_index", "to_index", "person_id"):
        intervals[row[0]].append(row[1:])
    result = {}
    for record in records:
        people = {
            person_id
            for start, end, person_id in intervals[record.conversation_id]
            if start <= record.chain_index and (end is None or record.chain_index <= end)
        }
        if record.actor_id is not None:
            people.add(record.actor_id)
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
    """Return how many records wait for the index and since when the oldest has waited."""
    rows = ArchiveIndexOutbox.objects.order_by("created_at")
    oldest = rows.values_list("created_at", flat=True).first()
    return CaptureLag(pending=rows.count(), oldest_at=oldest)
