"""Names of archived conversations as a reviewer reads them: the room's name, or its people.

The archive outlives the chat tables, so names come from the archive itself: a room's title
from its conversation.created record and later room.updated renames, the people of a direct
or group conversation from ArchiveParticipant (everyone who ever took part).
"""

from collections import defaultdict

from django.utils.translation import gettext as _

from archiving.models import ArchiveEvent, ArchiveParticipant, ArchiveRecord
from directory.models import Person

MAX_NAMES = 4  # a group of more people is named by the first few and a count


def conversation_label(*, conversation_id: int, kind: str, title: str, people: list[str]) -> str:
    """Return a conversation's name from its title or its people's display names."""
    if title:
        return title
    if not people:  # nothing else is known: the kind and the number are all there is
        if kind == "direct":
            return _("Direct conversation %(id)s") % {"id": conversation_id}
        if kind == "group":
            return _("Group conversation %(id)s") % {"id": conversation_id}
        return f"{kind.title()} {conversation_id}"
    shown = people[:MAX_NAMES]
    rest = len(people) - len(shown)
    comma = _(", ")
    if rest:
        listed = _("%(names)s and %(count)s more") % {"names": comma.join(shown), "count": rest}
    elif len(shown) > 1:
        listed = _("%(names)s and %(last)s") % {
            "names": comma.join(shown[:-1]),
            "last": shown[-1],
        }
    else:
        listed = shown[0]
    if kind == "direct":
        return _("Direct: %(people)s") % {"people": listed}
    if kind == "group":
        return _("Group: %(people)s") % {"people": listed}
    return _("Room with %(people)s") % {"people": listed}


def conversation_names(conversation_ids) -> dict[int, str]:
    """Return {conversation id: name} for archived conversations (ids unknown to the archive
    are named "Conversation <id>")."""
    ids = sorted({int(c) for c in conversation_ids})
    if not ids:
        return {}
    titles: dict[int, str] = {}
    kinds: dict[int, str] = {}
    first_members: dict[int, list[str]] = {}
    rows = (
        ArchiveRecord.objects.filter(
            conversation_id__in=ids,
            event__in=[ArchiveEvent.CONVERSATION_CREATED, ArchiveEvent.ROOM_UPDATED],
        )
        .order_by("conversation_id", "chain_index")
        .values_list("conversation_id", "conversation_kind", "event", "payload")
    )
    for conversation_id, kind, event, payload in rows:
        kinds[conversation_id] = kind
        payload = payload or {}
        if event == ArchiveEvent.CONVERSATION_CREATED:
            first_members[conversation_id] = list(payload.get("participants") or [])
        name = payload.get("title") if event == ArchiveEvent.CONVERSATION_CREATED else None
        name = name or payload.get("name")
        if isinstance(name, str) and name:
            titles[conversation_id] = name
    people: dict[int, list[str]] = defaultdict(list)
    for conversation_id, display, username in (
        ArchiveParticipant.objects.filter(conversation_id__in=ids)
        .order_by("conversation_id", "person__display_name", "person__username")
        .values_list("conversation_id", "person__display_name", "person__username")
    ):
        people[conversation_id].append(display or username)
    # Records written without participants (imports): the members the conversation began with.
    unnamed = {c: m for c, m in first_members.items() if not people.get(c)}
    if unnamed:
        displays = people_displays(u for members in unnamed.values() for u in members)
        for c, members in unnamed.items():
            people[c] = sorted(displays[u] for u in members if u in displays)
    missing = [c for c in ids if c not in kinds]
    if missing:
        kinds.update(
            ArchiveRecord.objects.filter(conversation_id__in=missing)
            .values_list("conversation_id", "conversation_kind")
            .distinct()
        )
    return {
        c: (
            conversation_label(
                conversation_id=c, kind=kinds[c], title=titles.get(c, ""), people=people[c]
            )
            if c in kinds
            else _("Conversation %(id)s") % {"id": c}
        )
        for c in ids
    }


def people_displays(usernames) -> dict[str, str]:
    """Return {username: display name} (the username when the directory has no name)."""
    usernames = sorted(set(usernames) - {""})
    found = dict(
        Person.objects.filter(username__in=usernames).values_list("username", "display_name")
    )
    return {u: found.get(u) or u for u in usernames}
