"""Distribution groups in contact lists (Lync's "add a distribution group").

Design. A person adds a directory group (one the directory sync keeps, DirectoryGroup) to
their contacts; Parley stores only the group, never a copy of its members, and expands it on
the server at every read, so the members shown are always the group's current ones. Live
sockets watch each member's presence at connect; when a directory sync changes who is in a
group, contact_groups_follow tells the subscribers' sockets to start or stop watching the
people who moved (one control frame per subscriber and person, through the fan-out hub).
Kept apart from services.py/selectors.py (both near their size limit); the same rules hold:
the functions marked "Store"/"Remove"/"Tell" change state, the others only read.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from directory.exceptions import Conflict, InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Person
from presence import realtime
from presence.models import Contact, ContactDistributionGroup
from presence.selectors import presence_for_watcher_many

MAX_MEMBERS = 500  # as many people as one presence.subscribe frame may watch


def _directory_group_get(name) -> Group:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(_("group must be the name of a directory group."))
    group = Group.objects.filter(name=name.strip(), directory_link__isnull=False).first()
    if group is None:
        raise NotFound(
            _("No directory group named %(name)s.") % {"name": name}, code="group_not_found"
        )
    return group


def contact_group_members(*, group_id: int) -> list[Person]:
    """Return the active members of a group (at most MAX_MEMBERS), by username."""
    return list(
        Person.objects.filter(groups__id=group_id, is_active=True).order_by("username")[
            :MAX_MEMBERS
        ]
    )


def contact_group_list(
    *, owner: Person, group_id: int | None = None
) -> list[tuple[Group, list[tuple[Person, str, dict]]]]:
    """Return my distribution groups (or only this one), each with its current members and
    what I may see of their presence."""
    entries = ContactDistributionGroup.objects.filter(owner=owner).select_related("group")
    if group_id is not None:
        entries = entries.filter(group_id=group_id)
    result = []
    for entry in entries:
        members = [m for m in contact_group_members(group_id=entry.group_id) if m.pk != owner.pk]
        seen = presence_for_watcher_many(people=members, watcher=owner)
        result.append(
            (
                entry.group,
                [(m, level, p) for m, (level, p) in zip(members, seen, strict=True)],
            )
        )
    return result


def contact_group_watched_ids(*, owner: Person) -> list[int]:
    """Return the ids of the people my distribution groups make me watch."""
    return list(
        Person.objects.filter(
            groups__in=ContactDistributionGroup.objects.filter(owner=owner).values("group_id"),
            is_active=True,
        )
        .exclude(pk=owner.pk)
        .values_list("pk", flat=True)
        .distinct()[:MAX_MEMBERS]
    )


@transaction.atomic
def contact_group_add(*, owner: Person, name: str) -> Group:
    """Store a directory group in my contacts; my sockets start watching its members."""
    group = _directory_group_get(name)
    _ignored, created = ContactDistributionGroup.objects.get_or_create(owner=owner, group=group)
    if not created:
        raise Conflict(
            _("%(name)s is already in your contacts.") % {"name": group.name},
            code="already_contact",
        )
    member_ids = [m.pk for m in contact_group_members(group_id=group.pk) if m.pk != owner.pk]
    _watch_tell(owner=owner, person_ids=member_ids)
    return group


@transaction.atomic
def contact_group_remove(*, owner: Person, name: str) -> None:
    """Remove a distribution group from my contacts (its members stay if they are contacts)."""
    group = Group.objects.filter(name=name).first()
    deleted = (
        ContactDistributionGroup.objects.filter(owner=owner, group=group).delete()[0]
        if group is not None
        else 0
    )
    if not deleted:
        raise NotFound(
            _("%(name)s is not in your contacts.") % {"name": name}, code="contact_not_found"
        )
    still = set(contact_group_watched_ids(owner=owner)) | set(
        Contact.objects.filter(owner=owner).values_list("person_id", flat=True)
    )
    gone = Person.objects.filter(groups=group).exclude(pk__in=still).exclude(pk=owner.pk)
    _unwatch_tell(owner=owner, people=list(gone))


def contact_groups_follow(*, person_ids: list[int]) -> int:
    """Tell subscribers' sockets to watch people who joined one of their distribution groups
    and to stop watching those who left all of them (after a directory sync); return how many
    watches changed."""
    subscriptions: dict[int, set[int]] = {}
    for owner_id, group_id in ContactDistributionGroup.objects.values_list("owner_id", "group_id"):
        subscriptions.setdefault(owner_id, set()).add(group_id)
    if not subscriptions:
        return 0
    groups_of: dict[int, set[int]] = {pk: set() for pk in person_ids}
    for person_id, group_id in Person.groups.through.objects.filter(
        person_id__in=person_ids
    ).values_list("person_id", "group_id"):
        groups_of[person_id].add(group_id)
    people = {p.pk: p for p in Person.objects.filter(pk__in=person_ids)}
    owners = {p.pk: p for p in Person.objects.filter(pk__in=subscriptions)}
    contacts = set(
        Contact.objects.filter(owner_id__in=subscriptions, person_id__in=person_ids).values_list(
            "owner_id", "person_id"
        )
    )
    changed = 0
    for owner_id, group_ids in subscriptions.items():
        watch, unwatch = [], []
        for person_id, person in people.items():
            if person_id == owner_id or (owner_id, person_id) in contacts:
                continue
            if person.is_active and groups_of[person_id] & group_ids:
                watch.append(person_id)
            else:
                unwatch.append(person)
        _watch_tell(owner=owners[owner_id], person_ids=watch)
        _unwatch_tell(owner=owners[owner_id], people=unwatch)
        changed += len(watch) + len(unwatch)
    return changed


def _watch_tell(*, owner: Person, person_ids: list[int]) -> None:
    """Tell the owner's sockets, after commit, to watch these people, with their presence."""
    people = list(Person.objects.filter(pk__in=person_ids))
    seen = presence_for_watcher_many(people=people, watcher=owner)
    for person, (level, projection) in zip(people, seen, strict=True):
        # Lambdas, not functools.partial: a failing robust callback is logged by __qualname__.
        transaction.on_commit(
            lambda person_id=person.pk, level=level, projection=projection: realtime.watch_start(
                watcher_id=owner.pk, person_id=person_id, level=level, projection=projection
            ),
            robust=True,
        )


def _unwatch_tell(*, owner: Person, people: list[Person]) -> None:
    """Tell the owner's sockets, after commit, to stop watching these people."""
    for person in people:
        transaction.on_commit(
            lambda person_id=person.pk, username=person.username: realtime.watch_stop(
                watcher_id=owner.pk, person_id=person_id, username=username
            ),
            robust=True,
        )
