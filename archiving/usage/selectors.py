"""Reading usage rows: totals grouped by day, conversation kind or department."""

from datetime import date

from django.db.models import Count, Sum

from archiving.naming import conversation_names
from archiving.usage.models import UsageConversationDay, UsageParticipantDay

GROUPINGS = ("day", "department", "kind", "room")


def _key(value) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def _sort_key(row: dict) -> tuple:
    return (row["key"] is None, row["key"] or "")


def usage_report(*, start: date | None, end: date | None, group_by: str) -> list[dict]:
    """Return one row of totals per group over the days from start to end (both included).

    conversations counts distinct conversations, people distinct active people (who posted a
    message or a file). By department, a conversation counts for every department that was
    active in it, and messages and files count for their sender's department. By room, one
    row per room (its name from the archive, its id in "conversation"), busiest first.
    """
    days = UsageConversationDay.objects.all()
    people = UsageParticipantDay.objects.all()
    if start is not None:
        days = days.filter(day__gte=start)
        people = people.filter(conversation_day__day__gte=start)
    if end is not None:
        days = days.filter(day__lte=end)
        people = people.filter(conversation_day__day__lte=end)
    if group_by == "room":
        return _rooms(days.filter(kind="room"), people.filter(conversation_day__kind="room"))
    if group_by == "department":
        groups = (
            people.values("department")
            .annotate(
                conversations=Count("conversation_day__conversation_id", distinct=True),
                messages=Sum("messages"),
                files=Sum("files"),
                people=Count("person", distinct=True),
                external_messages=Sum("external_messages"),
            )
            .order_by()
        )
        rows = [
            {
                "key": g["department"],
                "conversations": g["conversations"],
                "messages": g["messages"],
                "files": g["files"],
                "people": g["people"],
                "external_messages": g["external_messages"],
            }
            for g in groups
        ]
        return sorted(rows, key=_sort_key)
    people_by_key = {
        g[f"conversation_day__{group_by}"]: g["people"]
        for g in people.values(f"conversation_day__{group_by}")
        .annotate(people=Count("person", distinct=True))
        .order_by()
    }
    groups = (
        days.values(group_by)
        .annotate(
            conversations=Count("conversation_id", distinct=True),
            messages=Sum("messages"),
            files=Sum("files"),
            external_messages=Sum("external_messages"),
        )
        .order_by()
    )
    rows = [
        {
            "key": _key(g[group_by]),
            "conversations": g["conversations"],
            "messages": g["messages"],
            "files": g["files"],
            "people": people_by_key.get(g[group_by], 0),
            "external_messages": g["external_messages"],
        }
        for g in groups
    ]
    return sorted(rows, key=_sort_key)


def _rooms(days, people) -> list[dict]:
    people_by_room = dict(
        people.values_list("conversation_day__conversation_id")
        .annotate(people=Count("person", distinct=True))
        .order_by()
    )
    groups = list(
        days.values("conversation_id")
        .annotate(
            messages=Sum("messages"), files=Sum("files"), external_messages=Sum("external_messages")
        )
        .order_by()
    )
    names = conversation_names(g["conversation_id"] for g in groups)
    rows = [
        {
            "key": names.get(g["conversation_id"], f"Room {g['conversation_id']}"),
            "conversation": g["conversation_id"],
            "conversations": 1,
            "messages": g["messages"],
            "files": g["files"],
            "people": people_by_room.get(g["conversation_id"], 0),
            "external_messages": g["external_messages"],
        }
        for g in groups
    ]
    return sorted(rows, key=lambda row: (-row["messages"], row["key"], row["conversation"]))
