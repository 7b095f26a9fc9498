"""Cases, legal holds and saved searches: the services, and which records a hold covers.

Design. A hold covers an archive record when all of these hold:
- scope: the record's conversation is one the hold lists, OR a custodian took part in that
  conversation at any time (an ArchiveParticipant row, written by capture and never purged, or
  the custodian is the record's actor). A custodian's hold therefore keeps whole
  conversations, what the others said included, as eDiscovery expects;
- dates: start_at <= occurred_at < end_at, each bound optional (directory/moments.py: a date
  given for `end` means that whole day, UTC);
- query: when the hold has one, the record's body matches it (archiving.search.query, the same
  reference semantics as search). Records without text (joins, leaves) never match a query.
Coverage is evaluated when it is needed (retention runs, record counts), never copied, so a
record captured after the hold was placed is covered as soon as it exists.

A hold applies at once: placing one takes the retention lock, the same lock every retention
batch holds while it decides and deletes, so a purge either finished before the hold
committed or sees it. Release needs a reason; place and release are audited with the action.
A case with active holds cannot be closed: release them first, each with its reason (so every
release has a reason of its own in the audit trail).
"""

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from archiving.access import is_compliance_officer
from archiving.audit import audit_append
from archiving.models import (
    ArchiveEvent,
    ArchiveParticipant,
    ArchiveRecord,
    AuditAction,
    Case,
    LegalHold,
    SavedSearch,
)
from archiving.search.query import query_matches, query_parse
from archiving.search.types import HoldScope
from directory.exceptions import Conflict, InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Person
from directory.moments import range_parse

_RETENTION_LOCK_KEY = 0x7061726C  # "parl": one PostgreSQL advisory lock for holds vs purges
MAX_NAME = 200
CONVERSATION_KINDS = {"direct", "group", "room", "external"}


def retention_lock() -> None:
    """Serialise hold placement with retention batches until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: writers are serialised by the
    database itself, and a batch whose snapshot went stale fails to write instead of purging.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_RETENTION_LOCK_KEY])


# -- input checks ---------------------------------------------------------------------------


def text_field(value, *, field: str, required: bool = False, limit: int | None = None) -> str:
    """Return a text field of a request stripped, refusing non-text, empty (if required) and
    over-long values with a message naming the field."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(_("%(field)s must be text.") % {"field": field})
    value = value.strip()
    if required and not value:
        raise InvalidInput(_("%(field)s must not be empty.") % {"field": field})
    if limit and len(value) > limit:
        raise InvalidInput(
            _("%(field)s is limited to %(limit)s characters.") % {"field": field, "limit": limit}
        )
    return value


def people_by_username(usernames, *, field: str) -> list[Person]:
    """Return the people named, refusing anyone unknown (inactive people can be custodians)."""
    if not isinstance(usernames, list) or not all(isinstance(u, str) for u in usernames):
        raise InvalidInput(_("%(field)s must be a list of usernames.") % {"field": field})
    wanted = list(dict.fromkeys(usernames))
    found = {p.username: p for p in Person.objects.filter(username__in=wanted)}
    missing = [u for u in wanted if u not in found]
    if missing:
        raise InvalidInput(
            _("%(field)s: no person named %(missing)s.")
            % {"field": field, "missing": ", ".join(missing)},
            code="unknown_person",
        )
    return [found[u] for u in wanted]


def conversation_ids_parse(values, *, field: str = "conversations") -> list[int]:
    """Return a list of conversation ids (positive integers)."""
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise InvalidInput(
            _("%(field)s must be a list of conversation ids (positive integers).")
            % {"field": field}
        )
    return sorted(set(values))


def query_validate(text) -> str:
    """Return a query's text after checking that it parses (InvalidQuery says what is wrong)."""
    text = text_field(text, field="query")
    query_parse(text)
    return text


# -- cases ----------------------------------------------------------------------------------


def case_get(*, case_id: int) -> Case:
    case = Case.objects.select_related("owner").filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("No case %(case_id)s.") % {"case_id": case_id}, code="case_not_found")
    return case


def _case_snapshot(case: Case) -> dict:
    return {
        "name": case.name,
        "description": case.description,
        "status": case.status,
        "owner": case.owner.username,
    }


@transaction.atomic
def case_create(*, actor: Person, name, description="") -> Case:
    """Store a new open case owned by the actor."""
    case = Case.objects.create(
        name=text_field(name, field="name", required=True, limit=MAX_NAME),
        description=text_field(description, field="description"),
        owner=actor,
    )
    audit_append(
        actor=actor,
        action=AuditAction.CASE_CREATE,
        target=f"case {case.pk}",
        parameters=_case_snapshot(case),
    )
    return case


@transaction.atomic
def case_update(*, actor: Person, case_id: int, changes: dict) -> Case:
    """Change a case's name, description, status or owner; refuse to close it while on hold."""
    unknown = sorted(set(changes) - {"name", "description", "status", "owner"})
    if unknown:
        raise InvalidInput(
            _("Cannot change %(unknown)s of a case.") % {"unknown": ", ".join(unknown)}
        )
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("No case %(case_id)s.") % {"case_id": case_id}, code="case_not_found")
    before = _case_snapshot(case)
    if "name" in changes:
        case.name = text_field(changes["name"], field="name", required=True, limit=MAX_NAME)
    if "description" in changes:
        case.description = text_field(changes["description"], field="description")
    if "owner" in changes:
        (owner,) = people_by_username([changes["owner"]], field="owner")
        if not is_compliance_officer(owner):
            raise InvalidInput(
                _("owner: %(username)s is not a compliance officer.") % {"username": owner.username}
            )
        case.owner = owner
    if "status" in changes:
        if changes["status"] not in Case.Status.values:
            raise InvalidInput(_("status must be open or closed."))
        active = case.holds.filter(released_at__isnull=True).count()
        if changes["status"] == Case.Status.CLOSED and active:
            raise Conflict(
                _(
                    "Case %(pk)s has %(active)s active legal hold(s); release each of "
                    "them (with its reason) before closing the case."
                )
                % {"pk": case.pk, "active": active},
                code="case_has_active_holds",
            )
        case.status = changes["status"]
    after = _case_snapshot(case)
    changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if changed:
        case.save()
        audit_append(
            actor=actor,
            action=AuditAction.CASE_UPDATE,
            target=f"case {case.pk}",
            parameters={"changes": changed},
        )
    return case


# -- holds ----------------------------------------------------------------------------------


def hold_get(*, hold_id: int) -> LegalHold:
    hold = (
        LegalHold.objects.select_related("case", "placed_by", "released_by")
        .prefetch_related("custodians")
        .filter(pk=hold_id)
        .first()
    )
    if hold is None:
        raise NotFound(
            _("No legal hold %(hold_id)s.") % {"hold_id": hold_id}, code="hold_not_found"
        )
    return hold


def hold_parameters(hold: LegalHold) -> dict:
    """Return what a hold covers, as it is shown and audited."""
    return {
        "case": hold.case_id,
        "custodians": sorted(p.username for p in hold.custodians.all()),
        "conversations": hold.conversation_ids,
        "start": hold.start_at.isoformat() if hold.start_at else None,
        "end": hold.end_at.isoformat() if hold.end_at else None,
        "query": hold.query,
    }


@transaction.atomic
def hold_place(
    *,
    actor: Person,
    case_id: int,
    custodians=None,
    conversations=None,
    start=None,
    end=None,
    query="",
) -> LegalHold:
    """Store a legal hold on a case; from its commit no record it covers can be purged."""
    people = people_by_username([] if custodians is None else custodians, field="custodians")
    conversation_ids = conversation_ids_parse([] if conversations is None else conversations)
    if not people and not conversation_ids:
        raise InvalidInput(_("A hold needs at least one custodian or one conversation."))
    start_at, end_at = range_parse(start, end)
    query = query_validate(query)
    retention_lock()
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("No case %(case_id)s.") % {"case_id": case_id}, code="case_not_found")
    if case.status != Case.Status.OPEN:
        raise Conflict(
            _("Case %(pk)s is closed; reopen it to place holds.") % {"pk": case.pk},
            code="case_closed",
        )
    hold = LegalHold.objects.create(
        case=case,
        conversation_ids=conversation_ids,
        start_at=start_at,
        end_at=end_at,
        query=query,
        placed_by=actor,
        placed_at=timezone.now(),
    )
    hold.custodians.set(people)
    count = hold_record_count(hold=hold)
    audit_append(
        actor=actor,
        action=AuditAction.HOLD_PLACE,
        target=f"hold {hold.pk}",
        parameters=hold_parameters(hold),
        result_count=count,
    )
    hold.record_count = count
    return hold


@transaction.atomic
def hold_release(*, actor: Person, hold_id: int, reason) -> LegalHold:
    """Release a hold, with the reason; its records fall back under retention."""
    reason = text_field(reason, field="reason", required=True, limit=2000)
    hold = LegalHold.objects.select_for_update().filter(pk=hold_id).first()
    if hold is None:
        raise NotFound(
            _("No legal hold %(hold_id)s.") % {"hold_id": hold_id}, code="hold_not_found"
        )
    if hold.released_at is not None:
        raise Conflict(
            _("Hold %(pk)s was already released.") % {"pk": hold.pk}, code="hold_released"
        )
    hold.released_by = actor
    hold.released_at = timezone.now()
    hold.release_reason = reason
    hold.save(update_fields=["released_by", "released_at", "release_reason"])
    audit_append(
        actor=actor,
        action=AuditAction.HOLD_RELEASE,
        target=f"hold {hold.pk}",
        parameters={"case": hold.case_id, "reason": reason},
    )
    return hold


def hold_scope_q(hold: LegalHold) -> Q:
    """Return the filter of records a hold covers, all but its query."""
    custodian_ids = [p.pk for p in hold.custodians.all()]
    scope = Q(conversation_id__in=hold.conversation_ids) if hold.conversation_ids else None
    if custodian_ids:
        taken_part = ArchiveParticipant.objects.filter(person_id__in=custodian_ids).values(
            "conversation_id"
        )
        by_custodian = Q(conversation_id__in=taken_part) | Q(actor_id__in=custodian_ids)
        scope = by_custodian if scope is None else scope | by_custodian
    if scope is None:  # not placeable, but never let an empty hold mean "everything"
        return Q(pk__in=[])
    if hold.start_at:
        scope &= Q(occurred_at__gte=hold.start_at)
    if hold.end_at:
        scope &= Q(occurred_at__lt=hold.end_at)
    return scope


def hold_search_scope(hold: LegalHold) -> HoldScope:
    """Return what the hold covers as a search filter (the same rule as hold_scope_q and
    hold_covered_ids, resolved to ids now, so every search backend applies it in its index)."""
    custodian_ids = tuple(sorted(p.pk for p in hold.custodians.all()))
    conversations = set(hold.conversation_ids or ())
    if custodian_ids:
        conversations |= set(
            ArchiveParticipant.objects.filter(person_id__in=custodian_ids).values_list(
                "conversation_id", flat=True
            )
        )
    return HoldScope(
        conversation_ids=tuple(sorted(conversations)),
        actor_ids=custodian_ids,
        start=hold.start_at,
        end=hold.end_at,
        node=query_parse(hold.query) if hold.query else None,
    )


def hold_covered_ids(*, hold: LegalHold, records: QuerySet) -> set[int]:
    """Return the ids among `records` that the hold covers."""
    covered = records.filter(hold_scope_q(hold))
    tree = query_parse(hold.query) if hold.query else None
    if tree is None:
        return set(covered.values_list("pk", flat=True))
    return {
        pk
        for pk, body in covered.values_list("pk", "body").iterator(chunk_size=2000)
        if query_matches(tree, body)
    }


def hold_record_count(*, hold: LegalHold) -> int:
    """Return how many archive records the hold covers now."""
    covered = ArchiveRecord.objects.filter(hold_scope_q(hold))
    if not hold.query:
        return covered.count()
    tree = query_parse(hold.query)
    return sum(
        1
        for body in covered.values_list("body", flat=True).iterator(chunk_size=2000)
        if query_matches(tree, body)
    )


def holds_active() -> list[LegalHold]:
    return list(LegalHold.objects.filter(released_at__isnull=True).prefetch_related("custodians"))


# -- saved searches -------------------------------------------------------------------------

_FILTER_KEYS = {"participants", "senders", "conversations", "kinds", "events", "start", "end"}


def search_filters_validate(filters) -> dict:
    """Return search filters in their stored form, refusing unknown keys and bad values."""
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise InvalidInput(_("filters must be an object."))
    unknown = sorted(set(filters) - _FILTER_KEYS)
    if unknown:
        raise InvalidInput(
            _("Unknown filter(s) %(unknown)s; use %(FILTER_KEYS)s.")
            % {"unknown": ", ".join(unknown), "FILTER_KEYS": ", ".join(sorted(_FILTER_KEYS))}
        )
    clean: dict = {}
    for key in ("participants", "senders"):
        if key in filters:
            clean[key] = [p.username for p in people_by_username(filters[key], field=key)]
    if "conversations" in filters:
        clean["conversations"] = conversation_ids_parse(filters["conversations"])
    for key, allowed in (("kinds", CONVERSATION_KINDS), ("events", set(ArchiveEvent.values))):
        if key in filters:
            values = filters[key]
            if not isinstance(values, list) or not set(values) <= allowed:
                raise InvalidInput(
                    _("%(key)s must be a list drawn from %(allowed)s.")
                    % {"key": key, "allowed": ", ".join(sorted(allowed))}
                )
            clean[key] = sorted(set(values))
    start_at, end_at = range_parse(filters.get("start"), filters.get("end"))
    if start_at:
        clean["start"] = start_at.isoformat()
    if end_at:
        clean["end"] = end_at.isoformat()
    return clean


@transaction.atomic
def saved_search_create(
    *, actor: Person, case_id: int, name, query="", filters=None
) -> SavedSearch:
    """Store a named search with a case."""
    name = text_field(name, field="name", required=True, limit=MAX_NAME)
    query = query_validate(query)
    clean = search_filters_validate(filters)
    case = case_get(case_id=case_id)
    if SavedSearch.objects.filter(case=case, name=name).exists():
        raise Conflict(
            _("Case %(pk)s already has a saved search named %(name)r.")
            % {"pk": case.pk, "name": name}
        )
    search = SavedSearch.objects.create(
        case=case, name=name, query=query, filters=clean, created_by=actor
    )
    audit_append(
        actor=actor,
        action=AuditAction.SAVED_SEARCH_CREATE,
        target=f"saved search {search.pk}",
        parameters={"case": case.pk, "name": name, "query": query, "filters": clean},
    )
    return search
