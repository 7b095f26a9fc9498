"""History views (Lync's BACKCHAT): one chained record per view, repeats soon after counted.

See HistoryViewRepeat for why the repeat count lives beside the chain.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F

from archiving.models import ArchiveEvent, ArchiveRecord, HistoryViewRepeat


def history_view_repeat_count(
    *, conversation_id: int, actor_username: str, from_seq: int, to_seq: int, at: datetime
) -> bool:
    """Count a view as a repeat of a captured one of the same range by the same person within
    the window; return False when there is none (the caller captures the view).

    Runs under the caller's lock of the conversation, so two views at once cannot both miss.
    """
    since = at - timedelta(seconds=settings.PARLEY_HISTORY_VIEW_WINDOW_SECONDS)
    earlier = (
        ArchiveRecord.objects.filter(
            conversation_id=conversation_id,
            event=ArchiveEvent.HISTORY_VIEWED,
            actor_username=actor_username,
            occurred_at__gte=since,
            payload__from_seq=from_seq,
            payload__to_seq=to_seq,
        )
        .order_by("-chain_index")
        .values_list("pk", flat=True)
        .first()
    )
    if earlier is None:
        return False
    updated = HistoryViewRepeat.objects.filter(record_id=earlier).update(
        repeats=F("repeats") + 1, last_viewed_at=at
    )
    if not updated:
        HistoryViewRepeat.objects.create(record_id=earlier, repeats=1, last_viewed_at=at)
    return True


def history_repeats_attach(records) -> None:
    """Set repeat_views on the history.viewed records given (0 when never repeated)."""
    views = [r for r in records if r.event == ArchiveEvent.HISTORY_VIEWED]
    counts = dict(
        HistoryViewRepeat.objects.filter(record_id__in=[r.pk for r in views]).values_list(
            "record_id", "repeats"
        )
    )
    for record in views:
        record.repeat_views = counts.get(record.pk, 0)


def events_without_history_views(events: list[str], *, include_history_views: bool) -> list[str]:
    """Return the events filter of a search or export: history views are left out unless asked
    for (the flag, or history.viewed named in the events filter itself).

    An empty filter means every kind, so leaving history views out names every other kind.
    """
    if include_history_views or events:
        return list(events)
    return sorted(e for e in ArchiveEvent.values if e != ArchiveEvent.HISTORY_VIEWED)
