"""Compliance search, record and context views: checked, run, and audited together.

Each action appends its audit entry in the transaction that answers it: if the entry cannot
be written the officer gets no answer, so nothing is ever seen without a trace.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction

from archiving.access import compliance_officer_require
from archiving.audit import audit_append
from archiving.holds import hold_search_scope
from archiving.models import ArchiveRecord, AuditAction, LegalHold
from archiving.search.backend import backend_get
from archiving.search.query import query_parse
from archiving.search.types import (
    KINDS,
    Scope,
    SearchRequest,
    SearchResult,
    cursor_decode,
    cursor_encode,
    request_fingerprint,
    scope_event_resolve,
)
from directory.exceptions import InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Person

MAX_PAGE_SIZE = 200
MAX_FILTER_VALUES = 500
MAX_CONTEXT = 100


@dataclass(frozen=True)
class ArchiveSearchPage:
    result: SearchResult
    next_cursor: str | None


def _person_ids(usernames: list[str], *, field: str) -> tuple[int, ...]:
    if len(usernames) > MAX_FILTER_VALUES:
        raise InvalidInput(
            _("%(field)s takes at most %(MAX_FILTER_VALUES)s usernames.")
            % {"field": field, "MAX_FILTER_VALUES": MAX_FILTER_VALUES}
        )
    found = dict(Person.objects.filter(username__in=usernames).values_list("username", "pk"))
    unknown = [name for name in usernames if name not in found]
    if unknown:
        raise InvalidInput(
            _(
                "%(field)s: no person with the username %(sorted)s; use usernames "
                "as in the directory."
            )
            % {"field": field, "sorted": ", ".join(sorted(set(unknown)))},
            code="unknown_person",
        )
    return tuple(sorted(set(found.values())))


def _holds_resolve(hold_ids) -> tuple:
    """Return what each named legal hold covers (released holds too: what a hold kept is
    still a question an investigation asks), or raise InvalidInput naming the unknown ones."""
    if len(hold_ids) > MAX_FILTER_VALUES:
        raise InvalidInput(f"holds takes at most {MAX_FILTER_VALUES} ids.")
    found = LegalHold.objects.prefetch_related("custodians").in_bulk(set(hold_ids))
    unknown = sorted(set(hold_ids) - set(found))
    if unknown:
        raise InvalidInput(
            f"holds: no legal hold {', '.join(map(str, unknown))}.", code="unknown_hold"
        )
    return tuple(hold_search_scope(found[pk]) for pk in sorted(found))


def search_scope_build(
    *,
    participants: list[str],
    senders: list[str],
    conversations: list[int],
    kinds: list[str],
    events: list[str],
    start: datetime | None,
    end: datetime | None,
    holds: list[int] | tuple[int, ...] = (),
) -> Scope:
    """Return the scope of a search, or raise InvalidInput saying which filter is wrong."""
    unknown_kinds = [kind for kind in kinds if kind not in KINDS]
    if unknown_kinds:
        raise InvalidInput(
            _("kinds: unknown kind %(unknown_kinds)s; use %(KINDS)s.")
            % {"unknown_kinds": ", ".join(unknown_kinds), "KINDS": ", ".join(KINDS)}
        )
    if len(conversations) > MAX_FILTER_VALUES:
        raise InvalidInput(
            _("conversations takes at most %(MAX_FILTER_VALUES)s ids.")
            % {"MAX_FILTER_VALUES": MAX_FILTER_VALUES}
        )
    if start is not None and end is not None and start >= end:
        raise InvalidInput(_("start must be before end."))
    exact_events, event_prefixes = scope_event_resolve(events)
    return Scope(
        holds=_holds_resolve(holds),
        participant_ids=_person_ids(participants, field="participants"),
        sender_ids=_person_ids(senders, field="senders"),
        conversation_ids=tuple(sorted(set(conversations))),
        kinds=tuple(sorted(set(kinds))),
        events=exact_events,
        event_prefixes=event_prefixes,
        start=start,
        end=end,
    )


def archive_search(
    *,
    officer: Person,
    query: str,
    participants: list[str],
    senders: list[str],
    conversations: list[int],
    kinds: list[str],
    events: list[str],
    start: datetime | None,
    end: datetime | None,
    cursor: str | None,
    page_size: int,
    with_facets: bool = True,
    exact_total: bool = False,
    holds: list[int] | tuple[int, ...] = (),
) -> ArchiveSearchPage:
    """Return one page of archive hits for an officer; audit the search with its result count.

    The total is exact up to PARLEY_ARCHIVE_SEARCH_EXACT_TOTAL_UP_TO matches, then "at least"
    that many, unless the officer asks for the exact count.
    """
    compliance_officer_require(officer)
    node = query_parse(query)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInput(
            _("page_size must be between 1 and %(MAX_PAGE_SIZE)s.")
            % {"MAX_PAGE_SIZE": MAX_PAGE_SIZE}
        )
    scope = search_scope_build(
        participants=participants,
        senders=senders,
        conversations=conversations,
        kinds=kinds,
        events=events,
        start=start,
        end=end,
        holds=holds,
    )
    fingerprint = request_fingerprint(query_text=query, scope=scope)
    after = cursor_decode(cursor=cursor, fingerprint=fingerprint) if cursor else None
    backend = backend_get()
    with transaction.atomic():
        result = backend.search(
            SearchRequest(
                node=node,
                scope=scope,
                page_size=page_size,
                after=after,
                with_facets=with_facets,
                exact_total=exact_total,
                total_threshold=settings.PARLEY_ARCHIVE_SEARCH_EXACT_TOTAL_UP_TO,
            )
        )
        audit_append(
            actor=officer,
            action=AuditAction.SEARCH,
            target=query[:200],
            parameters={
                "query": query,
                "participants": participants,
                "senders": senders,
                "conversations": conversations,
                "kinds": kinds,
                "events": events,
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
                "holds": sorted(set(holds)),
                "page_size": page_size,
                "is_next_page": after is not None,
                "backend": backend.name,
                "hits_returned": [hit.record_id for hit in result.hits],
                "total_is_exact": result.total_is_exact,
            },
            result_count=result.total,
        )
    next_cursor = (
        cursor_encode(after=result.next_after, fingerprint=fingerprint)
        if result.next_after is not None
        else None
    )
    return ArchiveSearchPage(result=result, next_cursor=next_cursor)


def _record_get(record_id: int) -> ArchiveRecord:
    record = ArchiveRecord.objects.filter(pk=record_id).first()
    if record is None:
        raise NotFound(
            _("No archive record %(record_id)s.") % {"record_id": record_id},
            code="record_not_found",
        )
    return record


@transaction.atomic
def archive_record_view(*, officer: Person, record_id: int) -> ArchiveRecord:
    """Return one archive record to an officer; audit the view."""
    compliance_officer_require(officer)
    record = _record_get(record_id)
    audit_append(
        actor=officer,
        action=AuditAction.RECORD_VIEW,
        target=f"record:{record.pk}",
        parameters={"record": record.pk, "conversation": record.conversation_id},
        result_count=1,
    )
    return record


@transaction.atomic
def archive_record_context(
    *, officer: Person, record_id: int, before: int, after: int
) -> tuple[ArchiveRecord, list[ArchiveRecord]]:
    """Return a record and the records around it in its conversation, in chain order; audit it.

    Edits, deletions, joins and leaves are records of the chain, so they appear where they
    happened.
    """
    compliance_officer_require(officer)
    for name, value in (("before", before), ("after", after)):
        if not 0 <= value <= MAX_CONTEXT:
            raise InvalidInput(
                _("%(name)s must be between 0 and %(MAX_CONTEXT)s.")
                % {"name": name, "MAX_CONTEXT": MAX_CONTEXT}
            )
    record = _record_get(record_id)
    chain = ArchiveRecord.objects.filter(conversation_id=record.conversation_id)
    earlier = list(
        chain.filter(chain_index__lt=record.chain_index).order_by("-chain_index")[:before]
    )
    later = list(chain.filter(chain_index__gt=record.chain_index).order_by("chain_index")[:after])
    records = [*reversed(earlier), record, *later]
    audit_append(
        actor=officer,
        action=AuditAction.CONTEXT_VIEW,
        target=f"record:{record.pk}",
        parameters={
            "record": record.pk,
            "conversation": record.conversation_id,
            "before": before,
            "after": after,
            "records": [r.pk for r in records],
        },
        result_count=len(records),
    )
    return record, records
