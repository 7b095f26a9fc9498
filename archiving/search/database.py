"""Archive search in the database: SQLite FTS5 or PostgreSQL tsvector + GIN.

Both store the normalised words of a record (backend.index_text) and are queried with an
expression built from the parsed tree, never from the user's text:

- SQLite: an FTS5 table with the `ascii` tokenizer (`_` a token character). The stored text
  is already words separated by spaces, and `ascii` splits on nothing else (it keeps every
  non-ASCII character), so FTS5 sees exactly the words the reference matcher sees. Phrases
  are quoted strings, prefixes `"merg" *`, NOT is FTS5's binary NOT.
- PostgreSQL: the tsvector is written as a literal ('word':1,4 'other':2) and the query cast
  with ::tsquery, so PostgreSQL's own parser (which splits `_`, drops things that look like
  tags, depends on the locale for non-ASCII letters) never runs. Phrases use <->, prefixes
  :*. Limits of tsvector: positions stop at 16383 and a word is at most 2046 bytes (longer
  words are not indexed).

The scope is an ORM filter on ArchiveRecord beside an `id IN (index subquery)` condition.

History search (the messages collection) has a table of its own beside the records' one,
holding each message's current words and where it sits (conversation, seq, time): the
person's readable conversations are joined in as an array of (conversation, after seq,
until) rows, so the scope is a join condition, never text.
"""

import json
from collections import Counter
from datetime import UTC

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate

from archiving.models import ArchiveMembership, ArchiveRecord
from archiving.search.backend import IndexItem, index_text
from archiving.search.query import And, Node, Not, Or, Term
from archiving.search.types import (
    FacetCount,
    HistoryRequest,
    MessageItem,
    Scope,
    SearchRequest,
    SearchResult,
    hit_from_record,
    microseconds,
)

FACET_SIZE = 20
MAX_LEXEME_BYTES = 2046
MAX_POSITION = 16383

CREATE_SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS archiving_search_fts USING fts5("
    "words, tokenize=\"ascii tokenchars '_'\")"
]
CREATE_POSTGRESQL = [
    # No foreign key to the record: the index is derived data, cleaned by reconciliation.
    "CREATE TABLE IF NOT EXISTS archiving_search_vector ("
    " record_id bigint PRIMARY KEY, vector tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS archiving_search_vector_gin"
    " ON archiving_search_vector USING GIN (vector)",
]
DROP_SQLITE = ["DROP TABLE IF EXISTS archiving_search_fts"]
DROP_POSTGRESQL = ["DROP TABLE IF EXISTS archiving_search_vector"]

CREATE_MESSAGES_SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS archiving_search_message_fts USING fts5("
    "words, conversation UNINDEXED, seq UNINDEXED, created_us UNINDEXED, "
    "tokenize=\"ascii tokenchars '_'\")"
]
CREATE_MESSAGES_POSTGRESQL = [
    "CREATE TABLE IF NOT EXISTS archiving_search_message ("
    " message_id bigint PRIMARY KEY, conversation_id bigint NOT NULL, seq bigint NOT NULL,"
    " created_us bigint NOT NULL, vector tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS archiving_search_message_gin"
    " ON archiving_search_message USING GIN (vector)",
]
DROP_MESSAGES_SQLITE = ["DROP TABLE IF EXISTS archiving_search_message_fts"]
DROP_MESSAGES_POSTGRESQL = ["DROP TABLE IF EXISTS archiving_search_message"]


def _quote_fts5(words: tuple[str, ...]) -> str:
    return '"' + " ".join(words).replace('"', '""') + '"'


def fts5_expression(node: Node) -> str:
    """Return the FTS5 MATCH expression of a query tree."""
    if isinstance(node, Term):
        return _quote_fts5(node.words) + (" *" if node.is_prefix else "")
    if isinstance(node, Or):
        return "(" + " OR ".join(fts5_expression(child) for child in node.children) + ")"
    if isinstance(node, Not):  # pragma: no cover - the parser refuses a NOT standing alone
        raise ValueError("a NOT must be ANDed with a positive term")
    positives = [fts5_expression(c) for c in node.children if not isinstance(c, Not)]
    expression = "(" + " AND ".join(positives) + ")"
    for child in node.children:
        if isinstance(child, Not):
            expression = f"({expression} NOT {fts5_expression(child.child)})"
    return expression


def _lexeme(word: str) -> str:
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery_expression(node: Node) -> str:
    """Return the tsquery text of a query tree (cast with ::tsquery, no parser involved)."""
    if isinstance(node, Term):
        if node.is_prefix:
            return _lexeme(node.words[0]) + ":*"
        return "(" + " <-> ".join(_lexeme(word) for word in node.words) + ")"
    if isinstance(node, Not):
        return "!" + tsquery_expression(node.child)
    joiner = " & " if isinstance(node, And) else " | "
    return "(" + joiner.join(tsquery_expression(child) for child in node.children) + ")"


def tsvector_literal(text: str) -> str:
    """Return the tsvector literal of normalised text, with word positions."""
    positions: dict[str, list[int]] = {}
    for position, word in enumerate(text.split(), start=1):
        if len(word.encode()) <= MAX_LEXEME_BYTES:
            positions.setdefault(word, []).append(min(position, MAX_POSITION))
    return " ".join(
        f"{_lexeme(word)}:{','.join(str(p) for p in dict.fromkeys(where))}"
        for word, where in positions.items()
    )


def scope_filter(records: QuerySet, scope: Scope) -> QuerySet:
    """Return the records within the scope (the filters outside the query text)."""
    if scope.participant_ids:
        present = ArchiveMembership.objects.filter(
            conversation_id=OuterRef("conversation_id"),
            person_id__in=scope.participant_ids,
            from_index__lte=OuterRef("chain_index"),
        ).filter(Q(to_index__isnull=True) | Q(to_index__gte=OuterRef("chain_index")))
        records = records.filter(Q(actor_id__in=scope.participant_ids) | Exists(present))
    if scope.sender_ids:
        records = records.filter(actor_id__in=scope.sender_ids)
    if scope.conversation_ids:
        records = records.filter(conversation_id__in=scope.conversation_ids)
    if scope.kinds:
        kinds = Q(conversation_kind__in=[k for k in scope.kinds if k != "external"])
        if "external" in scope.kinds:
            kinds |= Q(is_external=True)
        records = records.filter(kinds)
    if scope.events or scope.event_prefixes:
        events = Q(event__in=scope.events)
        for prefix in scope.event_prefixes:
            events |= Q(event__startswith=prefix)
        records = records.filter(events)
    if scope.start is not None:
        records = records.filter(occurred_at__gte=scope.start)
    if scope.end is not None:
        records = records.filter(occurred_at__lt=scope.end)
    return records


class DatabaseBackend:
    name = "database"
    needs_participants = False  # the scope joins ArchiveMembership at query time

    @property
    def is_postgresql(self) -> bool:
        return connection.vendor == "postgresql"

    def ensure_setup(self) -> None:
        statements = (
            CREATE_POSTGRESQL + CREATE_MESSAGES_POSTGRESQL
            if self.is_postgresql
            else CREATE_SQLITE + CREATE_MESSAGES_SQLITE
        )
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)

    def index(self, items: list[IndexItem]) -> dict[int, str]:
        if not items:
            return {}
        rows = [(item.record.pk, index_text(item.record.body)) for item in items]
        with connection.cursor() as cursor:
            if self.is_postgresql:
                # One statement per batch: arrays of ids and tsvector literals.
                cursor.execute(
                    "INSERT INTO archiving_search_vector (record_id, vector) "
                    "SELECT record_id, vector::tsvector FROM unnest(%s::bigint[], %s::text[]) "
                    "AS batch(record_id, vector) ON CONFLICT (record_id) "
                    "DO UPDATE SET vector = EXCLUDED.vector",
                    [
                        [record_id for record_id, _ in rows],
                        [tsvector_literal(text) for _, text in rows],
                    ],
                )
            else:
                ids = [record_id for record_id, _ in rows]
                placeholders = ",".join(["%s"] * len(ids))
                cursor.execute(
                    f"DELETE FROM archiving_search_fts WHERE rowid IN ({placeholders})",  # noqa: S608
                    ids,
                )
                cursor.executemany(
                    "INSERT INTO archiving_search_fts (rowid, words) VALUES (%s, %s)", rows
                )
        return {}

    def forget(self, entries: list[tuple[int, int]]) -> dict[int, str]:
        if not entries:
            return {}
        ids = [record_id for record_id, _ in entries]
        placeholders = ",".join(["%s"] * len(ids))
        table, column = (
            ("archiving_search_vector", "record_id")
            if self.is_postgresql
            else ("archiving_search_fts", "rowid")
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE {column} IN ({placeholders})",  # noqa: S608
                ids,
            )
        return {}

    def clear(self) -> None:
        with connection.cursor() as cursor:
            if self.is_postgresql:
                cursor.execute("DELETE FROM archiving_search_vector")
                cursor.execute("DELETE FROM archiving_search_message")
            else:
                cursor.execute("DELETE FROM archiving_search_fts")
                cursor.execute("DELETE FROM archiving_search_message_fts")

    # -- history search: the messages collection -----------------------------------------

    def messages_index(self, items: list[MessageItem]) -> dict[int, str]:
        if not items:
            return {}
        with connection.cursor() as cursor:
            if self.is_postgresql:
                cursor.execute(
                    "INSERT INTO archiving_search_message "
                    "(message_id, conversation_id, seq, created_us, vector) "
                    "SELECT m, c, s, t, v::tsvector FROM unnest(%s::bigint[], %s::bigint[], "
                    "%s::bigint[], %s::bigint[], %s::text[]) AS batch(m, c, s, t, v) "
                    "ON CONFLICT (message_id) DO UPDATE SET vector = EXCLUDED.vector",
                    [
                        [item.message_id for item in items],
                        [item.conversation_id for item in items],
                        [item.seq for item in items],
                        [microseconds(item.created_at) for item in items],
                        [tsvector_literal(index_text(item.body)) for item in items],
                    ],
                )
            else:
                self._messages_delete(cursor, [item.message_id for item in items])
                cursor.executemany(
                    "INSERT INTO archiving_search_message_fts "
                    "(rowid, words, conversation, seq, created_us) VALUES (%s, %s, %s, %s, %s)",
                    [
                        (
                            item.message_id,
                            index_text(item.body),
                            item.conversation_id,
                            item.seq,
                            microseconds(item.created_at),
                        )
                        for item in items
                    ],
                )
        return {}

    def _messages_delete(self, cursor, ids: list[int]) -> None:
        placeholders = ",".join(["%s"] * len(ids))
        table, column = (
            ("archiving_search_message", "message_id")
            if self.is_postgresql
            else ("archiving_search_message_fts", "rowid")
        )
        cursor.execute(
            f"DELETE FROM {table} WHERE {column} IN ({placeholders})",  # noqa: S608
            ids,
        )

    def messages_forget(self, entries: list[tuple[int, int]]) -> dict[int, str]:
        if entries:
            with connection.cursor() as cursor:
                self._messages_delete(cursor, [message_id for message_id, _ in entries])
        return {}

    def messages_search(self, request: HistoryRequest) -> list[int]:
        if not request.readable:
            return []
        readable = [
            (
                r.conversation_id,
                r.after_seq,
                microseconds(r.until) if r.until is not None else None,
            )
            for r in request.readable
        ]
        before = request.before_id if request.before_id is not None else 2**62
        if self.is_postgresql:
            sql = """
                SELECT s.message_id FROM archiving_search_message s
                JOIN unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS r(c, after_seq, until)
                  ON r.c = s.conversation_id
                WHERE s.vector @@ %s::tsquery AND s.seq > r.after_seq
                  AND (r.until IS NULL OR s.created_us <= r.until) AND s.message_id < %s
                ORDER BY s.message_id DESC LIMIT %s
            """
            params = [
                [row[0] for row in readable],
                [row[1] for row in readable],
                [row[2] for row in readable],
                tsquery_expression(request.node),
                before,
                request.limit,
            ]
        else:
            sql = """
                SELECT f.rowid FROM archiving_search_message_fts f
                JOIN json_each(%s) r
                  ON json_extract(r.value, '$[0]') = CAST(f.conversation AS INTEGER)
                WHERE archiving_search_message_fts MATCH %s
                  AND CAST(f.seq AS INTEGER) > json_extract(r.value, '$[1]')
                  AND (json_extract(r.value, '$[2]') IS NULL
                       OR CAST(f.created_us AS INTEGER) <= json_extract(r.value, '$[2]'))
                  AND f.rowid < %s
                ORDER BY f.rowid DESC LIMIT %s
            """
            params = [json.dumps(readable), fts5_expression(request.node), before, request.limit]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    def refresh(self) -> None:
        """Nothing to do: the index is written in the database transaction."""

    def matching(self, request: SearchRequest) -> QuerySet:
        """Return the records matching the query and scope, unordered."""
        records = scope_filter(ArchiveRecord.objects.all(), request.scope)
        if request.node is not None:
            if self.is_postgresql:
                text = RawSQL(
                    "SELECT record_id FROM archiving_search_vector WHERE vector @@ %s::tsquery",
                    [tsquery_expression(request.node)],
                )
            else:
                text = RawSQL(
                    "SELECT rowid FROM archiving_search_fts WHERE archiving_search_fts MATCH %s",
                    [fts5_expression(request.node)],
                )
            records = records.filter(id__in=text)
        return records

    def search(self, request: SearchRequest) -> SearchResult:
        records = self.matching(request)
        page = records
        if request.after is not None:
            occurred_at, record_id = request.after
            page = page.filter(
                Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, id__lt=record_id)
            )
        # Sort the matches on (occurred_at, id) alone, then load the page's rows: sorting
        # every match of a common word with its body costs several times more.
        keys = list(
            page.order_by("-occurred_at", "-id").values_list("id", flat=True)[
                : request.page_size + 1
            ]
        )
        has_more = len(keys) > request.page_size
        keys = keys[: request.page_size]
        loaded = ArchiveRecord.objects.in_bulk(keys)
        rows = [loaded[key] for key in keys]
        hits = [hit_from_record(row, node=request.node) for row in rows]
        last = rows[-1] if has_more else None
        total, total_is_exact = self.total(records, request)
        return SearchResult(
            total=total,
            total_is_exact=total_is_exact,
            hits=hits,
            next_after=(last.occurred_at, last.pk) if last is not None else None,
            facets=self.facets(records) if request.with_facets else {},
        )

    def total(self, records: QuerySet, request: SearchRequest) -> tuple[int, bool]:
        """Return (total, whether it is exact): counting stops past the request's threshold."""
        if request.exact_total:
            return records.count(), True
        counted = records.order_by()[: request.total_threshold + 1].count()
        if counted > request.total_threshold:
            return request.total_threshold, False
        return counted, True

    def facets(self, records: QuerySet) -> dict[str, list[FacetCount]]:
        def top(field: str) -> list[FacetCount]:
            counted = (
                records.order_by()
                .values(field)
                .annotate(count=Count("id"))
                .order_by("-count", field)[:FACET_SIZE]
            )
            return [FacetCount(value=row[field], count=row["count"]) for row in counted]

        days: Counter = Counter()
        for row in (
            records.order_by()
            .annotate(day=TruncDate("occurred_at", tzinfo=UTC))
            .values("day")
            .annotate(count=Count("id"))
        ):
            days[row["day"].isoformat()] += row["count"]
        return {
            "senders": top("actor_username"),
            "conversations": top("conversation_id"),
            "days": [FacetCount(value=day, count=days[day]) for day in sorted(days)],
        }
