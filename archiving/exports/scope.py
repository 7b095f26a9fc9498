"""What an export covers: a search (the archive search filters) or a case, as ordered records.

Design. A scope resolves to filters on ArchiveRecord plus an optional query tree applied with
query_matches on the body (the reference semantics every search backend shares). Records come
out in (conversation_id, chain_index) order, read in keyset batches on that key: never on time,
so records with equal timestamps on either side of a batch boundary each come out once. The
chain heads taken at the export's first start bound every conversation (chain_index < length),
so records appended while the export runs are not half in it, and a restarted export reads
exactly the records the first attempt would have read.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils.dateparse import parse_datetime

from archiving.history_views import events_without_history_views
from archiving.holds import hold_scope_q
from archiving.models import ArchiveChain, ArchiveEvent, ArchiveRecord, Case, LegalHold
from archiving.search.database import scope_filter
from archiving.search.query import Node, query_matches, query_parse
from archiving.search.services import search_scope_build
from archiving.search.types import KINDS as SEARCH_KINDS
from archiving.search.types import Scope
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.moments import range_parse

SEARCH_FIELDS = {
    "query",
    "participants",
    "senders",
    "conversations",
    "kinds",
    "events",
    "include_history_views",
}
DATE_FIELDS = {"start", "end"}
KINDS = set(SEARCH_KINDS)
MAX_LIST = 1000
RECORD_FIELDS = (
    "id",
    "conversation_id",
    "conversation_kind",
    "chain_index",
    "event",
    "message_id",
    "message_seq",
    "actor_username",
    "body",
    "payload",
    "occurred_at",
    "record_hash",
)


def _string_list(data: dict, name: str) -> list[str]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput(
            _("search.%(name)s must be a list of non-empty strings.") % {"name": name}
        )
    if len(value) > MAX_LIST:
        raise InvalidInput(
            _("search.%(name)s may name at most %(MAX_LIST)s values.")
            % {"name": name, "MAX_LIST": MAX_LIST}
        )
    return sorted(set(value))


def search_scope_validate(data) -> dict:
    """Return the normalised search filters of an export request, or raise InvalidInput."""
    if not isinstance(data, dict):
        raise InvalidInput(_("search must be an object of filters."))
    unknown = sorted(set(data) - SEARCH_FIELDS - DATE_FIELDS)
    if unknown:
        raise InvalidInput(
            _("search has unknown fields: %(unknown)s; allowed: %(sorted)s.")
            % {
                "unknown": ", ".join(unknown),
                "sorted": ", ".join(sorted(SEARCH_FIELDS | DATE_FIELDS)),
            }
        )
    query = data.get("query", "") or ""
    query_parse(query)  # raises InvalidQuery (400) saying what is wrong
    conversations = data.get("conversations", [])
    if not isinstance(conversations, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in conversations
    ):
        raise InvalidInput(_("search.conversations must be a list of conversation ids (integers)."))
    kinds = _string_list(data, "kinds")
    if set(kinds) - KINDS:
        raise InvalidInput(
            _("search.kinds may contain only %(KINDS)s.") % {"KINDS": ", ".join(sorted(KINDS))}
        )
    include_history_views = data.get("include_history_views", False)
    if not isinstance(include_history_views, bool):
        raise InvalidInput(_("search.include_history_views must be true or false."))
    asked_events = _string_list(data, "events")
    # The same default as the archive search, so an export of a search holds its records.
    events = events_without_history_views(asked_events, include_history_views=include_history_views)
    # The archive search's own rule (directory/moments.py), so the dates a search was run
    # with export exactly its records; kept as exact instants so a rerun reads the same.
    start_at, end_at = range_parse(data.get("start"), data.get("end"), prefix="search.")
    start = start_at.isoformat() if start_at else None
    end = end_at.isoformat() if end_at else None
    scope = {
        "query": query,
        "participants": _string_list(data, "participants"),
        "senders": _string_list(data, "senders"),
        "conversations": sorted(set(conversations)),
        "kinds": kinds,
        "events": events,
        "start": start,
        "end": end,
        "include_history_views": include_history_views,
    }
    # Unknown people and events are refused as the archive search refuses them.
    _search_scope(scope)
    given = {k: v for k, v in scope.items() if k not in ("events", "include_history_views")}
    if not any(given.values()) and not asked_events:
        raise InvalidInput(
            _(
                "search needs at least one filter (query, participants, senders, "
                "conversations, kinds, events, start or end): an export of the whole "
                "archive must be asked for with an explicit date range."
            )
        )
    return scope


def export_scope_from_case(
    case_id, *, include_released_holds: bool = False, include_history_views: bool = False
) -> tuple[dict, list[dict]]:
    """Return the filters of a case's export and the account of its holds.

    A case export covers the records of the case's active holds; released holds only when
    asked for (include_released_holds). The hold ids are fixed when the job is created, so a
    restarted job reads the same holds; the account (every hold, whether it is active and
    whether it was exported) goes into the manifest with the scope.
    """
    if not isinstance(case_id, int) or isinstance(case_id, bool):
        raise InvalidInput(_("case must be a case id (an integer)."))
    case = Case.objects.filter(pk=case_id).first()
    if case is None:
        raise InvalidInput(
            _("There is no case %(case_id)s.") % {"case_id": case_id}, code="no_such_case"
        )
    holds = list(LegalHold.objects.filter(case=case).order_by("pk"))
    if not holds:
        raise InvalidInput(
            _(
                "Case %(case_id)s has no legal holds, so it names no records; "
                "place a hold or export a search."
            )
            % {"case_id": case_id},
            code="case_without_holds",
        )
    account = [
        {
            "hold": hold.pk,
            "status": "active" if hold.is_active else "released",
            "released_at": hold.released_at.isoformat() if hold.released_at else None,
            "exported": hold.is_active or include_released_holds,
        }
        for hold in holds
    ]
    hold_ids = [entry["hold"] for entry in account if entry["exported"]]
    if not hold_ids:
        raise InvalidInput(
            _(
                "Every hold of case %(case_id)s was released; export them with "
                '"include_released_holds": true.'
            )
            % {"case_id": case_id},
            code="case_without_active_holds",
        )
    filters = {
        "query": "",
        "participants": [],
        "senders": [],
        "conversations": [],
        "kinds": [],
        "events": [],
        "start": None,
        "end": None,
        "holds": hold_ids,
        "include_released_holds": include_released_holds,
        "include_history_views": include_history_views,
    }
    return filters, account


def _search_scope(filters: dict) -> Scope:
    """Return the archive search's scope for export filters: an export of a search holds
    exactly the records the search finds (the same filters, the same query semantics)."""
    return search_scope_build(
        participants=filters.get("participants") or [],
        senders=filters.get("senders") or [],
        conversations=filters.get("conversations") or [],
        kinds=filters.get("kinds") or [],
        events=filters.get("events") or [],
        start=parse_datetime(filters["start"]) if filters.get("start") else None,
        end=parse_datetime(filters["end"]) if filters.get("end") else None,
    )


@dataclass(frozen=True)
class ResolvedScope:
    filters: dict
    tree: Node | None
    # A case's holds: (annotation name, hold filter, hold query tree or None).
    holds: tuple[tuple[str, Q, Node | None], ...] = ()
    # The archive search's scope of a search export (None for a case), resolved once.
    search: Scope | None = None

    @classmethod
    def of(cls, filters: dict) -> "ResolvedScope":
        holds = tuple(
            (f"in_hold_{hold.pk}", hold_scope_q(hold), query_parse(hold.query) or None)
            for hold in LegalHold.objects.filter(pk__in=filters.get("holds") or [])
            .order_by("pk")
            .prefetch_related("custodians")
        )
        return cls(
            filters=filters,
            tree=query_parse(filters.get("query") or ""),
            holds=holds,
            search=None if filters.get("holds") else _search_scope(filters),
        )

    def keeps(self, body: str, flags: dict | object) -> bool:
        """Return whether a record in the queryset belongs to the scope (query and holds)."""
        if not query_matches(self.tree, body):
            return False
        if not self.filters.get("holds"):
            return True
        get = flags.get if isinstance(flags, dict) else lambda name: getattr(flags, name)
        return any(get(name) and query_matches(tree, body) for name, _, tree in self.holds)

    def queryset(self) -> QuerySet:
        """Return the records the filters select (the query and chain heads apply after)."""
        records = ArchiveRecord.objects.all()
        if self.search is not None:
            return scope_filter(records, self.search)
        covered = Q(pk__in=[])
        for name, scope_q, _tree in self.holds:
            covered |= scope_q
            records = records.annotate(
                **{name: ExpressionWrapper(scope_q, output_field=BooleanField())}
            )
        if self.filters.get("include_history_views", True) is False:
            # As in a search: who viewed which history is left out unless asked for (a job
            # created before this choice existed has no key and keeps what it counted).
            records = records.exclude(event=ArchiveEvent.HISTORY_VIEWED)
        return records.filter(covered)

    def custodians(self) -> frozenset[str]:
        """Return the usernames the export is about: a case's hold custodians, or the people
        a search names (participants and senders)."""
        if self.filters.get("holds"):
            return frozenset(
                LegalHold.custodians.through.objects.filter(
                    legalhold_id__in=self.filters["holds"]
                ).values_list("person__username", flat=True)
            )
        return frozenset(
            (self.filters.get("participants") or []) + (self.filters.get("senders") or [])
        )

    def heads(self) -> dict[str, list]:
        """Return {conversation_id: [length, head_hash]} of every chain the scope touches."""
        conversations = set(self.queryset().values_list("conversation_id", flat=True).distinct())
        return {
            str(c.conversation_id): [c.length, c.head_hash]
            for c in ArchiveChain.objects.filter(conversation_id__in=sorted(conversations))
            .order_by("conversation_id")
            .iterator(chunk_size=2000)
        }

    def expected_count(self, heads: dict[str, list]) -> int:
        """Count the records in scope straight from the archive (not through the writer)."""
        names = [name for name, _, _ in self.holds]
        rows = self.queryset().values("conversation_id", "chain_index", "body", *names)
        count = 0
        for row in rows.iterator(chunk_size=5000):
            head = heads.get(str(row["conversation_id"]))
            if head is not None and row["chain_index"] < head[0] and self.keeps(row["body"], row):
                count += 1
        return count

    def records(
        self, *, heads: dict[str, list], after: tuple[int, int] | None, batch_size: int
    ) -> Iterator[ArchiveRecord]:
        """Yield the records in scope after a key, in (conversation_id, chain_index) order."""
        base = self.queryset().only(*RECORD_FIELDS)
        key = after
        while True:
            batch = base
            if key is not None:
                batch = batch.filter(
                    Q(conversation_id__gt=key[0])
                    | Q(conversation_id=key[0], chain_index__gt=key[1])
                )
            rows = list(batch.order_by("conversation_id", "chain_index")[:batch_size])
            if not rows:
                return
            for record in rows:
                head = heads.get(str(record.conversation_id))
                if head is None or record.chain_index >= head[0]:
                    continue
                if self.keeps(record.body, record):
                    yield record
            key = (rows[-1].conversation_id, rows[-1].chain_index)
