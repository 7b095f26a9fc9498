"""What a watcher may see of a person's presence (DESIGN.md section 4).

Every read path of a person's fields beyond name and username (REST presence, presence.update
frames, contacts, member lists, the directory's entries) goes through presence_project, which
keeps only the fields the person's relationship with the watcher allows. Withheld fields are
left out, not sent empty.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import prefetch_related_objects
from django.utils import timezone

from directory.models import Person
from directory.selectors import person_photo_url
from presence.models import (
    APPEAR_OFFLINE,
    Activity,
    Availability,
    Contact,
    CustomPresenceState,
    Endpoint,
    PresenceLog,
    PresenceState,
    Relationship,
)

LEVELS = [level.value for level in Relationship]
# Watchers are grouped by a watch key: the level the person chose for them, or, when the
# person chose nothing, "default-" and the default level. Privacy mode then changes what the
# default groups see without moving anyone, and never what chosen contacts see.
DEFAULT_PREFIX = "default-"
WATCH_KEYS = [
    *LEVELS,
    DEFAULT_PREFIX + Relationship.COLLEAGUES,
    DEFAULT_PREFIX + Relationship.EXTERNAL,
]
NOTE_LOCATION = {Relationship.FRIENDS_FAMILY, Relationship.WORKGROUP, Relationship.COLLEAGUES}


@dataclass(frozen=True)
class Computed:
    """A person's availability as the server aggregates it across their endpoints."""

    availability: str
    is_idle: bool
    has_endpoint: bool


def manual_availability(state: PresenceState, *, now: datetime) -> str:
    """Return the manual state in force ('' when none or expired)."""
    if state.manual_expires_at is not None and state.manual_expires_at <= now:
        return ""
    if state.custom_state_id is not None and state.custom_state is not None:
        return state.custom_state.colour_class
    return state.manual_availability


def calendar_activity(state: PresenceState, *, now: datetime) -> str:
    """Return the calendar activity in force ('' when none or its event has ended)."""
    if state.calendar_until is not None and state.calendar_until <= now:
        return ""
    return state.calendar_activity


def presence_compute(*, state: PresenceState, endpoints: list[Endpoint], now: datetime) -> Computed:
    """Aggregate: no live endpoint = offline; a manual state wins over the machine state;
    otherwise the most active endpoint decides, idle endpoints turning away after the timers."""
    expiry = timedelta(seconds=settings.PARLEY_ENDPOINT_EXPIRY_SECONDS)
    live = [e for e in endpoints if e.last_seen_at >= now - expiry]
    if not live:
        return Computed(Availability.OFFLINE, is_idle=False, has_endpoint=False)
    inactive_after = timedelta(seconds=settings.PARLEY_IDLE_INACTIVE_SECONDS)
    away_after = inactive_after + timedelta(seconds=settings.PARLEY_IDLE_AWAY_SECONDS)
    # The most active endpoint decides: one endpoint in use means the person is not idle.
    is_in_use = any(e.idle_since is None for e in live)
    idle_for = None if is_in_use else min(now - e.idle_since for e in live)
    is_idle = idle_for is not None and idle_for >= inactive_after
    manual = manual_availability(state, now=now)
    if manual == APPEAR_OFFLINE:
        # Exactly what a disconnected person shows: is_idle would tell that they are online.
        return Computed(Availability.OFFLINE, is_idle=False, has_endpoint=True)
    if manual:
        return Computed(manual, is_idle=is_idle, has_endpoint=True)
    # A meeting in the calendar makes a person busy, idle or not (as Lync does); being out of
    # office is only shown as the activity and keeps the machine availability.
    if calendar_activity(state, now=now) == Activity.IN_A_MEETING:
        return Computed(Availability.BUSY, is_idle=is_idle, has_endpoint=True)
    if idle_for is not None and idle_for >= away_after:
        return Computed(Availability.AWAY, is_idle=True, has_endpoint=True)
    return Computed(Availability.AVAILABLE, is_idle=is_idle, has_endpoint=True)


def level_for_key(key: str, *, state: PresenceState) -> str:
    """Return the level whose fields a watch key sees."""
    if key.startswith(DEFAULT_PREFIX):
        # Privacy mode: people outside my contacts see what a blocked watcher sees.
        return Relationship.BLOCKED if state.is_privacy_mode else key[len(DEFAULT_PREFIX) :]
    return key


def relationship_default(*, person: Person, watcher: Person) -> str:
    """Colleagues for people of the same organisation, external for everyone else."""
    if watcher.is_external or person.is_external:
        return Relationship.EXTERNAL
    return Relationship.COLLEAGUES


def presence_project(
    *, person: Person, state: PresenceState, computed: Computed, level: str, now: datetime
) -> dict:
    """Return what a watcher at this level sees of the person."""
    data: dict = {"user": person.username, "display_name": person.name}
    if level == Relationship.BLOCKED:
        data["email"] = person.email
        data["availability"] = Availability.OFFLINE
        return data
    data.update(
        title=person.title,
        email=person.email,
        company=person.company,
        photo=person_photo_url(person),
        availability=computed.availability,
        is_idle=computed.is_idle,
    )
    if computed.availability != Availability.OFFLINE:
        manual = manual_availability(state, now=now)
        if manual and state.custom_state_id and state.custom_state is not None:
            data["custom_state"] = custom_state_to_dict(state.custom_state)
        activity = state.activity or calendar_activity(state, now=now)
        if activity:
            data["activity"] = activity
        if manual and state.manual_expires_at is not None:
            data["until"] = state.manual_expires_at.isoformat().replace("+00:00", "Z")
    if level in NOTE_LOCATION:
        data["note"] = state.note
        data["out_of_office_note"] = state.out_of_office_note
        data["location"] = state.location
        data["work_phone"] = person.work_phone
        data["time_zone"] = person.time_zone
        # Not in the table: shown with the work phone, as Lync shows external contacts only
        # name, title, e-mail, company and picture. Left out when the person has none.
        if person.department_id is not None:
            data["department"] = person.department.name
    if level == Relationship.FRIENDS_FAMILY:
        data["mobile_phone"] = person.mobile_phone
        data["home_phone"] = person.home_phone
    if level == Relationship.WORKGROUP:
        data["mobile_phone"] = person.mobile_phone
        data["can_interrupt_do_not_disturb"] = True
        data.update(meeting_details(state, computed=computed, now=now))
    return data


def meeting_details(state: PresenceState, *, computed: Computed, now: datetime) -> dict:
    """Return the subject and place of the meeting the person is in, as the calendar gives
    them (DESIGN.md section 4: the workgroup level, and the person, see them; nobody else).
    Nothing while offline, outside the meeting, or when the person set an activity by hand."""
    if (
        computed.availability == Availability.OFFLINE
        or state.activity
        or calendar_activity(state, now=now) != Activity.IN_A_MEETING
    ):
        return {}
    details = {}
    if state.calendar_subject:
        details["meeting_subject"] = state.calendar_subject
    if state.calendar_location:
        details["meeting_place"] = state.calendar_location
    return details


def presence_for_watcher(*, person: Person, watcher: Person) -> dict:
    """Return what the watcher may see of the person now (the owner sees everything)."""
    return presence_for_watcher_many(people=[person], watcher=watcher)[0][1]


def presence_for_watcher_many(*, people: list[Person], watcher: Person) -> list[tuple[str, dict]]:
    """Return (watch key, projection) for each person as the watcher may see them, in 3
    queries (4 when some departments are not loaded yet)."""
    now = timezone.now()
    ids = [p.pk for p in people]
    unloaded = [
        p for p in people if p.department_id is not None and not Person.department.is_cached(p)
    ]
    if unloaded:
        prefetch_related_objects(unloaded, "department")
    granted = dict(
        Contact.objects.filter(owner_id__in=ids, person=watcher).values_list(
            "owner_id", "relationship"
        )
    )
    states = {
        s.person_id: s
        for s in PresenceState.objects.select_related("custom_state").filter(person_id__in=ids)
    }
    endpoints: dict[int, list[Endpoint]] = {}
    for endpoint in Endpoint.objects.filter(person_id__in=ids):
        endpoints.setdefault(endpoint.person_id, []).append(endpoint)
    result = []
    for person in people:
        state = states.get(person.pk) or PresenceState(person=person)
        computed = presence_compute(state=state, endpoints=endpoints.get(person.pk, []), now=now)
        if person.pk == watcher.pk:
            key = Relationship.FRIENDS_FAMILY
            data = presence_own_view(person=person, state=state, computed=computed, now=now)
        else:
            key = granted.get(person.pk) or (
                DEFAULT_PREFIX + relationship_default(person=person, watcher=watcher)
            )
            data = presence_project(
                person=person,
                state=state,
                computed=computed,
                level=level_for_key(key, state=state),
                now=now,
            )
        result.append((key, data))
    return result


def presence_own_view(
    *, person: Person, state: PresenceState, computed: Computed, now: datetime
) -> dict:
    """Return what the person sees of themselves: every field, and their own settings."""
    data = presence_project(
        person=person, state=state, computed=computed, level=Relationship.FRIENDS_FAMILY, now=now
    )
    data.update(
        manual_availability=state.manual_availability, is_privacy_mode=state.is_privacy_mode
    )
    data.update(meeting_details(state, computed=computed, now=now))
    return data


def custom_state_to_dict(state: CustomPresenceState) -> dict:
    return {
        "id": state.pk,
        "label": state.label,
        "colour_class": state.colour_class,
        "translations": state.translations,
    }


def presence_states_list() -> dict:
    """Return the built-in states a person may choose and the active custom ones."""
    from presence.models import MANUAL_CHOICES, Activity

    return {
        "availability": [str(c) for c in MANUAL_CHOICES],
        "activities": [a.value for a in Activity],
        "custom": [
            custom_state_to_dict(s) for s in CustomPresenceState.objects.filter(is_active=True)
        ],
    }


def contact_list(*, owner: Person) -> list[Contact]:
    return list(Contact.objects.filter(owner=owner).select_related("person"))


def availability_at(*, person: Person, at: datetime) -> str:
    """Return the person's availability at a moment, from the presence log."""
    entry = (
        PresenceLog.objects.filter(person=person, at__lte=at)
        .order_by("-at", "-id")
        .values_list("to_availability", flat=True)
        .first()
    )
    return entry or Availability.OFFLINE


def presence_log_list(
    *, person: Person, start: datetime, end: datetime, limit: int
) -> list[PresenceLog]:
    """Return the person's availability changes in [start, end), oldest first."""
    return list(
        PresenceLog.objects.filter(person=person, at__gte=start, at__lt=end).order_by("at", "id")[
            :limit
        ]
    )
