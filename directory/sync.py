"""Directory sync: people, groups and leavers from LDAP / Active Directory into Parley.

Design. The directory is the source of truth for the people it lists (those with a
`directory_dn`) and for the groups linked to it (DirectoryGroup); local accounts such as
break-glass administrators and external federation people are never touched, and neither are
local groups. One sync runs in one transaction: it reads the whole directory first (so a
directory that cannot be read changes nothing), then creates, updates, deactivates and
re-activates people, sets linked groups' members exactly, and appends one DirectoryChange per
change (the audit trail) in the same transaction. A dry run does the same work and rolls it
back, so what it prints is exactly what a real run would do. Deactivation goes through
person_deactivate (tokens stop at once, sockets close after commit). After commit the
follow-ups in settings.PARLEY_DIRECTORY_SYNC_FOLLOW_UPS get the ids of people who moved
between groups or departments (information barriers re-check their conversations).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from directory import services
from directory.integrations import ldap
from directory.models import Department, DirectoryChange, DirectoryGroup, Person

TEXT_FIELDS = (
    "display_name",
    "first_name",
    "last_name",
    "email",
    "title",
    "company",
    "work_phone",
    "mobile_phone",
    "home_phone",
)


@dataclass
class SyncChange:
    action: str
    target: str
    changes: dict = field(default_factory=dict)

    def describe(self) -> str:
        details = ", ".join(
            f"{name}: {value[0]!r} -> {value[1]!r}"
            if isinstance(value, list) and len(value) == 2 and name not in ("added", "removed")
            else f"{name}: {value}"
            for name, value in self.changes.items()
        )
        return f"{self.action} {self.target}" + (f" ({details})" if details else "")


@dataclass
class SyncReport:
    dry_run: bool
    changes: list[SyncChange] = field(default_factory=list)
    moved_person_ids: set[int] = field(default_factory=set)
    run: uuid.UUID = field(default_factory=uuid.uuid4)

    def count(self, action: str) -> int:
        return sum(1 for change in self.changes if change.action == action)


class _DryRunRollback(Exception):
    """Raised at the end of a dry run to roll its transaction back."""


def _photo_name(username: str, content: bytes) -> str:
    return f"photos/directory/{username}-{hashlib.sha256(content).hexdigest()[:16]}.jpg"


class _Sync:
    def __init__(self, report: SyncReport) -> None:
        self.report = report
        self.departments = {d.name: d for d in Department.objects.all()}
        self.created: dict[int, SyncChange] = {}  # person id -> their creation, this run
        self.mapped = set(settings.PARLEY_LDAP_ATTRIBUTES) - {
            name for name, attr in settings.PARLEY_LDAP_ATTRIBUTES.items() if not attr
        }

    def record(self, action: str, target: str, changes: dict | None = None) -> SyncChange:
        change = SyncChange(action=action, target=target, changes=changes or {})
        self.report.changes.append(change)
        return change

    def department(self, name: str) -> Department | None:
        if not name:
            return None
        if name not in self.departments:
            self.departments[name] = Department.objects.create(name=name)
        return self.departments[name]

    def person_apply(self, entry: ldap.DirectoryEntry, person: Person | None) -> Person:
        """Create or update one person from their entry; return them."""
        username = entry.fields["username"]
        wanted = {name: entry.fields.get(name, "") for name in TEXT_FIELDS if name in self.mapped}
        if person is None:
            person = services.person_create(username=username, password=None)
            for name, value in wanted.items():
                setattr(person, name, value)
            person.directory_dn = entry.dn
            changes: dict = {name: value for name, value in wanted.items() if value}
            if "department" in self.mapped:
                person.department = self.department(entry.fields.get("department", ""))
                if person.department is not None:
                    changes["department"] = person.department.name
            self.photo_apply(person, entry, changes)
            if entry.is_disabled:
                person.is_active = False
                changes["is_active"] = False
            person.save()
            self.created[person.pk] = self.record(
                DirectoryChange.Action.PERSON_CREATE, username, changes
            )
            return person
        changes = {}
        for name, value in wanted.items():
            if getattr(person, name) != value:
                changes[name] = [getattr(person, name), value]
                setattr(person, name, value)
        if person.username != username and not Person.objects.filter(username=username).exists():
            changes["username"] = [person.username, username]  # renamed in the directory
            person.username = username
        if person.directory_dn != entry.dn:
            changes["directory_dn"] = [person.directory_dn, entry.dn]
            person.directory_dn = entry.dn
        if "department" in self.mapped:
            department = self.department(entry.fields.get("department", ""))
            if person.department_id != (department.pk if department else None):
                before = person.department.name if person.department else ""
                changes["department"] = [before, department.name if department else ""]
                person.department = department
                self.report.moved_person_ids.add(person.pk)
        self.photo_apply(person, entry, changes)
        if changes:
            person.save()
            self.record(DirectoryChange.Action.PERSON_UPDATE, person.username, changes)
        if entry.is_disabled and person.is_active:
            services.person_deactivate(person=person)
            self.record(
                DirectoryChange.Action.PERSON_DEACTIVATE,
                person.username,
                {"reason": "disabled in the directory"},
            )
        elif not entry.is_disabled and not person.is_active:
            person.is_active = True
            person.save(update_fields=["is_active"])
            self.record(DirectoryChange.Action.PERSON_REACTIVATE, person.username)
        return person

    def photo_apply(self, person: Person, entry: ldap.DirectoryEntry, changes: dict) -> None:
        if "photo" not in self.mapped:
            return
        name = _photo_name(entry.fields["username"], entry.photo) if entry.photo else ""
        current = person.photo.name or ""
        if current == name or (not name and not current.startswith("photos/directory/")):
            return  # unchanged, or a photo uploaded in Parley that the directory has none for
        changes["photo"] = [current, name]
        if not name:
            person.photo = ""
        elif self.report.dry_run or default_storage.exists(name):
            person.photo.name = name
        else:
            person.photo.name = default_storage.save(name, ContentFile(entry.photo))


def _people_sync(sync: _Sync, snapshot: ldap.DirectorySnapshot) -> dict[str, Person]:
    """Apply every entry; deactivate directory people no longer listed; return people by DN."""
    people = list(Person.objects.select_related("department").filter(is_external=False))
    by_dn = {p.directory_dn.lower(): p for p in people if p.directory_dn}
    by_username = {p.username: p for p in people}
    synced: dict[str, Person] = {}
    for entry in snapshot.people:
        person = by_dn.get(entry.dn.lower()) or by_username.get(entry.fields["username"])
        synced[entry.dn.lower()] = sync.person_apply(entry, person)
    for dn, person in by_dn.items():
        if dn not in synced and person.is_active:
            services.person_deactivate(person=person)
            sync.record(
                DirectoryChange.Action.PERSON_DEACTIVATE,
                person.username,
                {"reason": "removed from the directory"},
            )
    if "manager" in sync.mapped:
        for entry in snapshot.people:
            person = synced[entry.dn.lower()]
            manager = synced.get(entry.manager_dn.lower()) if entry.manager_dn else None
            if person.manager_id != (manager.pk if manager else None):
                before = person.manager.username if person.manager else ""
                after = manager.username if manager else ""
                if person.pk in sync.created:
                    sync.created[person.pk].changes["manager"] = after
                else:
                    sync.record(
                        DirectoryChange.Action.PERSON_UPDATE,
                        person.username,
                        {"manager": [before, after]},
                    )
                person.manager = manager
                person.save(update_fields=["manager"])
    return synced


def _groups_sync(sync: _Sync, snapshot: ldap.DirectorySnapshot, synced: dict[str, Person]) -> None:
    links = {link.dn.lower(): link for link in DirectoryGroup.objects.select_related("group")}
    memberships = Person.groups.through.objects
    seen: set[str] = set()
    for entry in snapshot.groups:
        seen.add(entry.dn.lower())
        link = links.get(entry.dn.lower())
        if link is None:
            name = settings.PARLEY_LDAP_GROUP_NAMES.get(entry.cn, entry.cn)
            group, created = Group.objects.get_or_create(name=name)
            link = DirectoryGroup.objects.create(group=group, dn=entry.dn)
            sync.record(
                DirectoryChange.Action.GROUP_CREATE,
                name,
                {"dn": entry.dn, "existing_group": not created},
            )
        members = {synced[dn.lower()] for dn in entry.member_dns if dn.lower() in synced}
        _members_set(sync, link, {p.pk: p.username for p in members}, memberships)
    for dn, link in links.items():
        if dn not in seen:  # the directory group is gone: nobody is in it any more
            _members_set(sync, link, {}, memberships)


def _members_set(sync: _Sync, link: DirectoryGroup, wanted: dict[int, str], memberships) -> None:
    current = dict(
        memberships.filter(group_id=link.group_id).values_list("person_id", "person__username")
    )
    added = sorted(set(wanted) - set(current))
    removed = sorted(set(current) - set(wanted))
    if added:
        memberships.bulk_create(
            [memberships.model(group_id=link.group_id, person_id=pk) for pk in added]
        )
    if removed:
        memberships.filter(group_id=link.group_id, person_id__in=removed).delete()
    link.synced_at = timezone.now()
    link.save(update_fields=["synced_at"])
    if added or removed:
        sync.report.moved_person_ids.update(added, removed)
        sync.record(
            DirectoryChange.Action.GROUP_MEMBERS,
            link.group.name,
            {
                "added": sorted(wanted[pk] for pk in added),
                "removed": sorted(current[pk] for pk in removed),
            },
        )


def _changes_store(report: SyncReport) -> None:
    now = timezone.now()
    DirectoryChange.objects.bulk_create(
        DirectoryChange(
            run=report.run,
            occurred_at=now,
            action=change.action,
            target=change.target[:200],
            changes=change.changes,
        )
        for change in report.changes
    )


def _follow_ups_queue(person_ids: list[int]) -> None:
    for path in settings.PARLEY_DIRECTORY_SYNC_FOLLOW_UPS:
        import_string(path).delay(person_ids=person_ids)


def directory_sync(
    *, dry_run: bool = False, snapshot: ldap.DirectorySnapshot | None = None
) -> SyncReport:
    """Bring people and linked groups in line with the directory (or only say what would
    change); return the changes."""
    if snapshot is None:
        snapshot = ldap.directory_read()  # before the transaction: a failed read changes nothing
    report = SyncReport(dry_run=dry_run)
    try:
        with transaction.atomic():
            sync = _Sync(report)
            synced = _people_sync(sync, snapshot)
            _groups_sync(sync, snapshot, synced)
            _changes_store(report)
            if dry_run:
                raise _DryRunRollback
            moved = sorted(report.moved_person_ids)
            if moved:
                transaction.on_commit(lambda: _follow_ups_queue(moved), robust=True)
    except _DryRunRollback:
        pass
    return report


@transaction.atomic
def directory_person_sync(*, entry: ldap.DirectoryEntry) -> Person:
    """Create or update one person from their directory entry (at their first sign-in, before
    the next full sync); the change is audited like a sync's."""
    report = SyncReport(dry_run=False)
    sync = _Sync(report)
    person = (
        Person.objects.filter(directory_dn__iexact=entry.dn).first()
        or Person.objects.filter(username=entry.fields["username"], is_external=False).first()
    )
    person = sync.person_apply(entry, person)
    _changes_store(report)
    return person
