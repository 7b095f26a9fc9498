"""The only code that writes usage rows: refresh from the archive, purge by retention."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Min
from django.db.models.functions import TruncDate
from django.utils import timezone

from archiving.models import ArchiveEvent, ArchiveRecord
from archiving.usage.models import UsageConversationDay, UsageCursor, UsageParticipantDay
from directory.models import Person

COUNTED = (ArchiveEvent.MESSAGE_POSTED, ArchiveEvent.FILE_UPLOADED)
# A record recorded longer ago than this belongs to a committed transaction, and so do all
# records with smaller ids: the cursor may pass it.
SETTLE = timedelta(seconds=60)
CONVERSATIONS_PER_QUERY = 500
GROUPED_BY = ("conversation_id", "day", "actor_id", "event", "conversation_kind", "is_external")


@dataclass
class _Activity:
    messages: int = 0
    files: int = 0
    external_messages: int = 0


@dataclass
class _Day:
    kind: str = ""
    is_external: bool = False
    first: datetime | None = None
    last: datetime | None = None
    total: _Activity = field(default_factory=_Activity)
    people: dict[int, _Activity] = field(default_factory=lambda: defaultdict(_Activity))


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _days_compute(touched: set[tuple[int, date]]) -> dict[tuple[int, date], _Day]:
    """Return the activity of each touched conversation-day, read from all its records."""
    days: dict[tuple[int, date], _Day] = defaultdict(_Day)
    conversation_ids = sorted({conversation_id for conversation_id, _ in touched})
    for offset in range(0, len(conversation_ids), CONVERSATIONS_PER_QUERY):
        chunk = conversation_ids[offset : offset + CONVERSATIONS_PER_QUERY]
        chunk_ids = set(chunk)
        chunk_days = [day for conversation_id, day in touched if conversation_id in chunk_ids]
        since, _ = _day_bounds(min(chunk_days))
        _, until = _day_bounds(max(chunk_days))
        groups = (
            ArchiveRecord.objects.filter(
                conversation_id__in=chunk,
                event__in=COUNTED,
                occurred_at__gte=since,
                occurred_at__lt=until,
            )
            .annotate(day=TruncDate("occurred_at", tzinfo=UTC))
            .values(*GROUPED_BY)
            .annotate(n=Count("pk"), first=Min("occurred_at"), last=Max("occurred_at"))
            .order_by()
        )
        for group in groups:
            key = (group["conversation_id"], group["day"])
            if key not in touched:
                continue
            day = days[key]
            day.kind = group["conversation_kind"]
            day.is_external = day.is_external or group["is_external"]
            day.first = min(filter(None, (day.first, group["first"])))
            day.last = max(filter(None, (day.last, group["last"])))
            activities = [day.total]
            if group["actor_id"] is not None:
                activities.append(day.people[group["actor_id"]])
            for activity in activities:
                if group["event"] == ArchiveEvent.FILE_UPLOADED:
                    activity.files += group["n"]
                else:
                    activity.messages += group["n"]
                    if group["is_external"]:
                        activity.external_messages += group["n"]
    return days


def _rows_write(touched: set[tuple[int, date]], days: dict[tuple[int, date], _Day]) -> None:
    person_ids = {pid for day in days.values() for pid in day.people}
    people = {
        p["pk"]: p
        for p in Person.objects.filter(pk__in=person_ids).values(
            "pk", "username", "is_external", "department__name"
        )
    }
    for conversation_id, day_date in touched:
        day = days.get((conversation_id, day_date))
        if day is None:  # its records are gone (purged); the row, if any, stays as it was
            continue
        row, _ = UsageConversationDay.objects.update_or_create(
            conversation_id=conversation_id,
            day=day_date,
            defaults={
                "kind": day.kind,
                "is_external": day.is_external,
                "messages": day.total.messages,
                "files": day.total.files,
                "external_messages": day.total.external_messages,
                "first_activity": day.first,
                "last_activity": day.last,
            },
        )
        UsageParticipantDay.objects.filter(conversation_day=row).delete()
        UsageParticipantDay.objects.bulk_create(
            UsageParticipantDay(
                conversation_day=row,
                person_id=person_id,
                username=people[person_id]["username"],
                department=people[person_id]["department__name"],
                is_external=people[person_id]["is_external"],
                messages=activity.messages,
                files=activity.files,
                external_messages=activity.external_messages,
            )
            for person_id, activity in sorted(day.people.items())
        )


@transaction.atomic
def usage_refresh(*, now: datetime | None = None) -> int:
    """Recompute the conversation-days touched since the cursor; return how many."""
    now = now or timezone.now()
    # One refresh at a time: the row lock serialises the task and report requests.
    UsageCursor.objects.bulk_create([UsageCursor(pk=1)], ignore_conflicts=True)
    cursor = UsageCursor.objects.select_for_update().get(pk=1)
    new = ArchiveRecord.objects.filter(pk__gt=cursor.last_record_id)
    touched = set(
        new.filter(event__in=COUNTED)
        .annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values_list("conversation_id", "day")
        .distinct()
        .order_by()
    )
    if touched:
        _rows_write(touched, _days_compute(touched))
    settled = new.filter(recorded_at__lt=now - SETTLE).aggregate(last=Max("pk"))["last"]
    if settled is not None:
        cursor.last_record_id = settled
        cursor.save(update_fields=["last_record_id", "updated_at"])
    return len(touched)


def usage_purge(*, now: datetime | None = None) -> int:
    """Delete the usage rows older than PARLEY_USAGE_RETENTION_DAYS; return how many."""
    now = now or timezone.now()
    oldest_kept = now.astimezone(UTC).date() - timedelta(days=settings.PARLEY_USAGE_RETENTION_DAYS)
    _, by_model = UsageConversationDay.objects.filter(day__lt=oldest_kept).delete()
    return by_model.get(UsageConversationDay._meta.label, 0)
