"""The only code that changes presence, endpoints and contacts.

A change is published after commit as one presence.update per watch key (the watchers'
sockets are grouped by the level the person grants them, selectors.WATCH_KEYS), so the cost
of a change does not grow with the number of watchers.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from directory.exceptions import Conflict, InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Person
from directory.selectors import person_get_active
from presence import realtime
from presence.integrations import exchange
from presence.models import (
    MANUAL_CHOICES,
    Activity,
    Contact,
    CustomPresenceState,
    Endpoint,
    PresenceLog,
    PresenceState,
    Relationship,
)
from presence.selectors import (
    DEFAULT_PREFIX,
    WATCH_KEYS,
    level_for_key,
    presence_compute,
    presence_for_watcher_many,
    presence_own_view,
    presence_project,
)

log = logging.getLogger(__name__)

NOT_GIVEN = object()
MAX_EXPIRY = timedelta(days=30)


def _publish(
    person: Person,
    *,
    reason: str,
    now: datetime | None = None,
    force: bool = False,
    tell_self: bool = True,
    is_privacy_change: bool = False,
) -> None:
    """Recompute the person's presence and announce it if it changed (or if forced).

    tell_self=False skips the person's own sockets: opening or closing an endpoint changes
    availability only for the first or the last socket, which has nobody of its own to tell.
    Watchers who see the constant "blocked" view (blocked, and non-contacts in privacy mode)
    are told nothing, since even an unchanged update would show when the person is active;
    only a change of privacy mode itself reaches the non-contacts.
    """
    now = now or timezone.now()
    # Locked, so that one person's recomputations run one at a time across server processes,
    # each reading the endpoints the previous one committed: a tab opening on one server while
    # another closes on a second would otherwise each miss the other's endpoint, and the
    # person would be published (and logged) offline while connected.
    state, _ignored = (
        PresenceState.objects.select_for_update(of=("self",))
        .select_related("custom_state")
        .get_or_create(person=person)
    )
    computed = presence_compute(
        state=state, endpoints=list(Endpoint.objects.filter(person=person)), now=now
    )
    changed = state.published_availability != computed.availability
    idle_changed = state.published_is_idle != computed.is_idle
    published = {}
    if idle_changed:
        published["published_is_idle"] = computed.is_idle
    if changed:
        PresenceLog.objects.create(
            person=person,
            at=now,
            from_availability=state.published_availability,
            to_availability=computed.availability,
            reason=reason,
        )
        published["published_availability"] = computed.availability
    if published:
        PresenceState.objects.filter(pk=state.pk).update(**published)
    if not (changed or idle_changed or force):
        return
    keys = [
        key
        for key in WATCH_KEYS
        if level_for_key(key, state=state) != Relationship.BLOCKED
        or (is_privacy_change and key.startswith(DEFAULT_PREFIX))
    ]
    projections = {
        key: presence_project(
            person=person,
            state=state,
            computed=computed,
            level=level_for_key(key, state=state),
            now=now,
        )
        for key in keys
    }
    own = (
        presence_own_view(person=person, state=state, computed=computed, now=now)
        if tell_self
        else None
    )
    person_id = person.pk
    transaction.on_commit(
        lambda: realtime.presence_changed(person_id=person_id, projections=projections, own=own),
        robust=True,
    )


@transaction.atomic
def presence_set(
    *,
    person: Person,
    availability=NOT_GIVEN,
    custom_state=NOT_GIVEN,
    expires_in_minutes=NOT_GIVEN,
    activity=NOT_GIVEN,
    note=NOT_GIVEN,
    out_of_office_note=NOT_GIVEN,
    location=NOT_GIVEN,
    is_privacy_mode=NOT_GIVEN,
) -> PresenceState:
    """Change what the person publishes; fields not given stay as they are.

    availability "" (or null) clears the manual state, returning to the machine state.
    """
    state, _ignored = PresenceState.objects.select_for_update().get_or_create(person=person)
    if availability is not NOT_GIVEN:
        if availability is not None and not isinstance(availability, str):
            raise InvalidInput(_("availability must be text, or null to clear it."))
        availability = availability or ""
        if availability and availability not in MANUAL_CHOICES:
            raise InvalidInput(
                _("availability must be one of %(MANUAL_CHOICES)s, or empty to clear.")
                % {"MANUAL_CHOICES": ", ".join(MANUAL_CHOICES)},
                code="invalid_availability",
            )
        state.manual_availability = availability
        state.custom_state = None
        state.manual_expires_at = None
    if custom_state is not NOT_GIVEN:
        if custom_state in (None, ""):
            if state.custom_state_id is not None:
                # The custom state set the manual availability; clearing one clears both.
                state.manual_availability = ""
                state.manual_expires_at = None
            state.custom_state = None
        else:
            if isinstance(custom_state, bool) or not isinstance(custom_state, int):
                raise InvalidInput(
                    _("custom_state must be the id of a custom state, or null to clear it.")
                )
            found = CustomPresenceState.objects.filter(pk=custom_state, is_active=True).first()
            if found is None:
                raise NotFound(
                    _("No custom state %(custom_state)s.") % {"custom_state": custom_state},
                    code="custom_state_not_found",
                )
            state.custom_state = found
            state.manual_availability = found.colour_class
    if expires_in_minutes is not NOT_GIVEN:
        if expires_in_minutes is None:
            state.manual_expires_at = None
        else:
            if (
                isinstance(expires_in_minutes, bool)
                or not isinstance(expires_in_minutes, int)
                or expires_in_minutes < 1
            ):
                raise InvalidInput(_("expires_in_minutes must be a whole number of minutes >= 1."))
            # Compared in minutes: timedelta() itself overflows on a huge number.
            if expires_in_minutes > MAX_EXPIRY // timedelta(minutes=1):
                raise InvalidInput(_("expires_in_minutes is limited to 30 days."))
            if not state.manual_availability:
                raise InvalidInput(
                    _("expires_in_minutes needs a manual availability to expire."),
                    code="nothing_to_expire",
                )
            state.manual_expires_at = timezone.now() + timedelta(minutes=expires_in_minutes)
    if activity is not NOT_GIVEN:
        if activity is not None and not isinstance(activity, str):
            raise InvalidInput(_("activity must be text, or null to clear it."))
        activity = activity or ""
        if activity and activity not in Activity.values:
            raise InvalidInput(
                _("activity must be one of %(values)s, or empty.")
                % {"values": ", ".join(Activity.values)},
                code="invalid_activity",
            )
        state.activity = activity
    for name, value, limit in (
        ("note", note, 500),
        ("out_of_office_note", out_of_office_note, 500),
        ("location", location, 200),
    ):
        if value is NOT_GIVEN:
            continue
        if value is not None and not isinstance(value, str):
            raise InvalidInput(
                _("%(name)s must be text of at most %(limit)s characters.")
                % {"name": name, "limit": limit}
            )
        value = value or ""
        if not isinstance(value, str) or len(value) > limit:
            raise InvalidInput(
                _("%(name)s must be text of at most %(limit)s characters.")
                % {"name": name, "limit": limit}
            )
        setattr(state, name, value)
    is_privacy_change = False
    if is_privacy_mode is not NOT_GIVEN:
        if not isinstance(is_privacy_mode, bool):
            raise InvalidInput(_("is_privacy_mode must be true or false."))
        is_privacy_change = state.is_privacy_mode != is_privacy_mode
        state.is_privacy_mode = is_privacy_mode
    state.save()
    _publish(
        person,
        reason=PresenceLog.Reason.MANUAL,
        force=True,
        is_privacy_change=is_privacy_change,
    )
    return state


@transaction.atomic
def presence_republish(*, person: Person) -> None:
    """Announce the person's projection again after their photo or time zone changed."""
    _publish(person, reason=PresenceLog.Reason.MANUAL, force=True)


def _relationship_validate(relationship) -> str:
    if relationship not in Relationship.values:
        raise InvalidInput(
            _("relationship must be one of %(values)s.")
            % {"values": ", ".join(Relationship.values)},
            code="invalid_relationship",
        )
    return relationship


def _watcher_moved(*, owner: Person, watcher: Person) -> None:
    [(level, projection)] = presence_for_watcher_many(people=[owner], watcher=watcher)
    owner_id, watcher_id = owner.pk, watcher.pk
    transaction.on_commit(
        lambda: realtime.watcher_moved(
            watcher_id=watcher_id, person_id=owner_id, level=level, projection=projection
        ),
        robust=True,
    )


@transaction.atomic
def contact_add(
    *, owner: Person, username: str, group: str = "", relationship: str | None = None
) -> Contact:
    """Add someone to my contacts with the relationship I grant them (default by company)."""
    person = person_get_active(username=username) if isinstance(username, str) else None
    if person is None:
        raise NotFound(
            _("No active person named %(username)s.") % {"username": username},
            code="person_not_found",
        )
    if person.pk == owner.pk:
        raise InvalidInput(_("You cannot add yourself to your contacts."))
    if Contact.objects.filter(owner=owner, person=person).exists():
        raise Conflict(
            _("%(username)s is already in your contacts.") % {"username": username},
            code="already_contact",
        )
    if relationship is None:
        relationship = Relationship.EXTERNAL if person.is_external else Relationship.COLLEAGUES
    if not isinstance(group, str) or len(group) > 100:
        raise InvalidInput(_("group must be text of at most 100 characters."))
    contact = Contact.objects.create(
        owner=owner, person=person, group=group, relationship=_relationship_validate(relationship)
    )
    _watcher_moved(owner=owner, watcher=person)
    return contact


def _contact_get(*, owner: Person, username: str) -> Contact:
    contact = (
        Contact.objects.select_related("person")
        .filter(owner=owner, person__username=username)
        .first()
    )
    if contact is None:
        raise NotFound(
            _("%(username)s is not in your contacts.") % {"username": username},
            code="contact_not_found",
        )
    return contact


@transaction.atomic
def contact_update(
    *, owner: Person, username: str, group=NOT_GIVEN, relationship=NOT_GIVEN
) -> Contact:
    """Change a contact's group or the relationship I grant them (watchers move at once)."""
    contact = _contact_get(owner=owner, username=username)
    if group is not NOT_GIVEN:
        if not isinstance(group, str) or len(group) > 100:
            raise InvalidInput(_("group must be text of at most 100 characters."))
        contact.group = group
    if relationship is not NOT_GIVEN:
        contact.relationship = _relationship_validate(relationship)
    contact.save()
    _watcher_moved(owner=owner, watcher=contact.person)
    return contact


@transaction.atomic
def contact_remove(*, owner: Person, username: str) -> None:
    """Remove a contact; they fall back to the default relationship at once."""
    contact = _contact_get(owner=owner, username=username)
    contact.delete()
    _watcher_moved(owner=owner, watcher=contact.person)


# -- endpoints -------------------------------------------------------------------------------


def server_name() -> str:
    """Return this process's name in the endpoint table."""
    return settings.PARLEY_SERVER_NAME


@transaction.atomic
def endpoint_open(*, person: Person, device: str = "") -> Endpoint:
    """Register a new connection of the person and announce them online if they were not."""
    now = timezone.now()
    endpoint = Endpoint.objects.create(
        person=person,
        key=uuid.uuid4().hex,
        device=device[:100],
        server=server_name(),
        last_seen_at=now,
    )
    _publish(person, reason=PresenceLog.Reason.CONNECT, now=now, tell_self=False)
    return endpoint


@transaction.atomic
def endpoint_close(*, endpoint_key: str) -> None:
    """Forget a closed connection; the person goes offline with their last endpoint."""
    endpoint = Endpoint.objects.select_related("person").filter(key=endpoint_key).first()
    if endpoint is None:
        return
    endpoint.delete()
    _publish(endpoint.person, reason=PresenceLog.Reason.DISCONNECT, tell_self=False)


@transaction.atomic
def endpoint_idle(*, endpoint_key: str, is_idle: bool) -> None:
    """Record that the person stopped (or resumed) using this endpoint."""
    endpoint = Endpoint.objects.select_related("person").filter(key=endpoint_key).first()
    if endpoint is None:
        raise NotFound(_("This connection is not registered."), code="endpoint_not_found")
    now = timezone.now()
    if is_idle and endpoint.idle_since is None:
        endpoint.idle_since = now
    elif not is_idle:
        endpoint.idle_since = None
    endpoint.last_seen_at = now
    endpoint.save(update_fields=["idle_since", "last_seen_at"])
    _publish(endpoint.person, reason=PresenceLog.Reason.IDLE, now=now)


# Endpoints of this server name opened before this process started are a dead predecessor's
# (a restarted container keeps its hostname and PID; PARLEY_SERVER_NAME may be fixed): the
# heartbeat leaves them to expire instead of keeping them alive for ever.
PROCESS_STARTED_AT = timezone.now()


def endpoints_heartbeat(*, server: str) -> int:
    """Refresh every endpoint of one server process (one statement for all of them)."""
    return Endpoint.objects.filter(server=server, connected_at__gte=PROCESS_STARTED_AT).update(
        last_seen_at=timezone.now()
    )


def presence_sweep() -> int:
    """Expire endpoints of dead processes and apply the timers (idle, manual expiry);
    announce every person whose availability changed. Returns how many people were checked."""
    now = timezone.now()
    expiry = timedelta(seconds=settings.PARLEY_ENDPOINT_EXPIRY_SECONDS)
    stale_people = set(
        Endpoint.objects.filter(last_seen_at__lt=now - expiry).values_list("person_id", flat=True)
    )
    Endpoint.objects.filter(last_seen_at__lt=now - expiry).delete()
    timed = set(
        Endpoint.objects.filter(idle_since__isnull=False).values_list("person_id", flat=True)
    ) | set(
        PresenceState.objects.filter(manual_expires_at__lte=now).values_list("person_id", flat=True)
    )
    people = Person.objects.filter(pk__in=stale_people | timed)
    for person in people:
        reason = (
            PresenceLog.Reason.DISCONNECT
            if person.pk in stale_people
            else PresenceLog.Reason.EXPIRY
        )
        with transaction.atomic():
            _publish(person, reason=reason, now=now)
    PresenceState.objects.filter(manual_expires_at__lte=now).update(
        manual_availability="", custom_state=None, manual_expires_at=None
    )
    return len(people)


# -- calendar presence -----------------------------------------------------------------------

# How far ahead to read: a day joins back-to-back meetings into one in-a-meeting span, and
# Exchange returns every block overlapping the window, so a long absence comes back whole.
CALENDAR_WINDOW = timedelta(days=1)
# Exchange busy types that show as an activity, strongest first. Tentative, Free and
# WorkingElsewhere show nothing, as in Lync, where only a busy block means "In a meeting".
CALENDAR_ACTIVITIES = (("OOF", Activity.OUT_OF_OFFICE), ("Busy", Activity.IN_A_MEETING))
_calendar_off_said = False


@dataclass(frozen=True)
class CalendarNow:
    """What the calendar gives at one moment: the activity, until when, and the meeting's
    subject and place (in-a-meeting only; empty for a private meeting)."""

    activity: str = ""
    until: datetime | None = None
    subject: str = ""
    location: str = ""


def calendar_activity_from_events(
    events: list[exchange.CalendarEvent], *, now: datetime
) -> CalendarNow:
    """Return the activity the calendar gives at this moment and when it ends."""
    for busy_type, activity in CALENDAR_ACTIVITIES:
        blocks = [e for e in events if e.busy_type == busy_type]
        covering = [e for e in blocks if e.start <= now < e.end]
        if not covering:
            continue
        until = max(e.end for e in covering)
        extended = True
        while extended:  # follow blocks of the same kind that start before this one ends
            later = [e.end for e in blocks if e.start <= until < e.end]
            extended = bool(later)
            until = max([until, *later])
        if activity != Activity.IN_A_MEETING:
            return CalendarNow(activity, until)
        meeting = max(covering, key=lambda e: e.start)  # the one most recently begun
        return CalendarNow(activity, until, meeting.subject, meeting.location)
    return CalendarNow()


@transaction.atomic
def _calendar_activity_set(*, person: Person, now: CalendarNow, at: datetime) -> bool:
    state = PresenceState.objects.select_for_update().filter(person=person).first()
    if state is None:
        if not now.activity:
            return False
        state, _ignored = PresenceState.objects.get_or_create(person=person)
    before = (state.calendar_activity, state.calendar_subject, state.calendar_location)
    after = (now.activity, now.subject, now.location)
    if before == after and state.calendar_until == now.until:
        return False
    PresenceState.objects.filter(pk=state.pk).update(
        calendar_activity=now.activity,
        calendar_until=now.until,
        calendar_subject=now.subject,
        calendar_location=now.location,
        updated_at=at,
    )
    if before == after:
        return False  # the same meeting or absence, only longer or shorter: nothing to show
    state.calendar_activity, state.calendar_until = now.activity, now.until
    state.calendar_subject, state.calendar_location = now.subject, now.location
    _publish(person, reason=PresenceLog.Reason.CALENDAR, now=at, force=True)
    return True


def calendar_presence_refresh(*, now: datetime | None = None) -> int:
    """Set in-a-meeting / out-of-office from Exchange free/busy for everyone connected.

    Asks only for active, internal people with an e-mail address and a live endpoint: the
    calendar only shows while a person is online, and it keeps the load on Exchange to the
    people online. When Exchange fails, for everyone or for one mailbox, it is logged and those
    people keep their state until the next poll. Returns how many people's activity changed.
    """
    global _calendar_off_said  # said once per process, not at every poll
    if not exchange.is_configured():
        if not _calendar_off_said:
            log.warning("Calendar presence is off: PARLEY_EXCHANGE_EWS_URL is not set.")
            _calendar_off_said = True
        return 0
    now = now or timezone.now()
    expiry = timedelta(seconds=settings.PARLEY_ENDPOINT_EXPIRY_SECONDS)
    people = list(
        Person.objects.filter(
            is_active=True, is_external=False, endpoints__last_seen_at__gte=now - expiry
        )
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )
    changed = 0
    for first in range(0, len(people), exchange.MAX_MAILBOXES):
        batch = people[first : first + exchange.MAX_MAILBOXES]
        try:
            calendars = exchange.free_busy_list(
                emails=[p.email for p in batch], start=now, end=now + CALENDAR_WINDOW
            )
        except exchange.ExchangeUnavailableError as error:
            log.warning("Calendar presence of %d people left as it was: %s", len(batch), error)
            continue
        for person in batch:
            events = calendars.get(person.email)
            if events is None:
                continue
            changed += _calendar_activity_set(
                person=person, now=calendar_activity_from_events(events, now=now), at=now
            )
    return changed
