"""Archive search in an embedded tantivy index (a Lucene-class engine, in-process, on disk).

Documents. `words` holds the normalised words (backend.index_text) under tantivy's
`whitespace` tokenizer, which splits on spaces only and changes nothing else, so the engine
sees exactly the words the reference matcher sees: a word is a term query, a phrase a phrase
query on positions, a prefix a regex over the term dictionary. Beside it, the scope's fields
(participants at that record, sender, conversation, kind, external, event, time) are indexed
as terms and fast fields: the scope is a set of filter clauses inside the engine's query, so
nothing outside it is ever collected, counted or faceted. Hits are read back from the
archive itself (one primary-key query per page), so the index stores no text.

Order. Newest first on (occurred_us, record): the engine collects the top page on
occurred_us; records sharing the last timestamp of the page are then taken in record order
by a second query on that timestamp alone, so paging is exact across identical timestamps.
Totals are always exact (the engine counts every match in microseconds, so the threshold of
SearchRequest is not needed) and facets are the engine's aggregations.

Writers. A tantivy index has a single writer at a time (a lock file in its folder). Only the
indexing task writes (search_index_pending: the Celery worker, or the in-process task in the
embedded mode); it opens the writer for one batch, commits and lets it go, so several
workers take turns (a busy lock is waited for, then the batch is retried by the queue).
Every web process opens its own reader and reloads it before each search (a few
microseconds when nothing changed), so a committed batch is searchable at once. The folder
(`PARLEY_SEARCH_INDEX_DIR`) must therefore be on a disk every web and worker process of the
host reads; a deployment on several hosts uses Elasticsearch.

Versions. Records are append-only, so an entry only ever goes from written to removed. A
removal runs after the record left the archive (retention deletes the row, then queues the
removal); a write re-reads which records still exist once it holds the writer lock, so a
slow worker never brings back a record that another removed meanwhile.
"""

import json
import re
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import tantivy
from django.db import connection, transaction

from archiving.models import ArchiveIndexOutbox, ArchiveRecord, ArchiveSearchEntry
from archiving.search.backend import IndexItem, index_text
from archiving.search.query import Node, Not, Or, Term
from archiving.search.types import (
    EPOCH,
    FacetCount,
    HistoryRequest,
    MessageItem,
    Readable,
    Scope,
    SearchRequest,
    SearchResult,
    hit_from_record,
    microseconds,
)

FACET_SIZE = 20
IDENTITY_FILE = "parley-identity.json"  # the id of the database the folder was built from
SCHEMA_VERSION = 1  # a new schema goes to a new sub-folder, filled by search_reindex
MESSAGES_SCHEMA_VERSION = 1
DAY_US = 86_400_000_000
WRITER_HEAP = 64_000_000
WRITER_WAIT_SECONDS = 30.0
# Records sharing one timestamp are rare; this bounds the tie-break query of a page.
MAX_TIES = 10_000


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("record", stored=True, indexed=True, fast=True)
    builder.add_integer_field("occurred_us", indexed=True, fast=True)
    builder.add_integer_field("conversation", indexed=True, fast=True)
    builder.add_integer_field("sender_id", indexed=True)
    builder.add_integer_field("participants", indexed=True)
    builder.add_integer_field("external", indexed=True)
    builder.add_text_field("kind", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("event", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("sender", tokenizer_name="raw", index_option="basic", fast=True)
    builder.add_text_field("words", tokenizer_name="whitespace", index_option="position")
    return builder.build()


def _message_schema() -> tantivy.Schema:
    """The history collection: a message's current words and where it sits."""
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("message", stored=True, indexed=True, fast=True)
    builder.add_integer_field("conversation", indexed=True, fast=True)
    builder.add_integer_field("seq", indexed=True, fast=True)
    builder.add_integer_field("created_us", indexed=True, fast=True)
    builder.add_text_field("words", tokenizer_name="whitespace", index_option="position")
    return builder.build()


def records_existing(record_ids: list[int]) -> set[int]:
    """Return which of these archive records still exist (one statement, no ORM per value)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT id FROM archiving_archiverecord WHERE id = ANY(%s)", [record_ids]
            )
        else:
            cursor.execute(
                "SELECT id FROM archiving_archiverecord "
                "WHERE id IN (SELECT value FROM json_each(%s))",
                [json.dumps(record_ids)],
            )
        return {row[0] for row in cursor.fetchall()}


class WriterBusy(RuntimeError):
    """Another process holds the index writer for longer than we wait: retry the batch."""


class TantivyBackend:
    name = "tantivy"
    needs_participants = True  # documents carry who was in the conversation

    def __init__(self, *, path: Path) -> None:
        self.root = Path(path)
        self._identity_checked = False
        self.path = Path(path) / f"v{SCHEMA_VERSION}"
        self.messages_path = Path(path) / f"messages-v{MESSAGES_SCHEMA_VERSION}"
        self.schema = _schema()
        self.messages_schema = _message_schema()
        self._indexes: dict[Path, tantivy.Index] = {}
        self._lock = threading.Lock()

    # -- opening -------------------------------------------------------------------------

    def _open(self, path: Path, schema: tantivy.Schema) -> tantivy.Index:
        with self._lock:
            if path not in self._indexes:
                path.mkdir(parents=True, exist_ok=True)
                self._indexes[path] = tantivy.Index(schema, path=str(path), reuse=True)
            return self._indexes[path]

    @property
    def index_handle(self) -> tantivy.Index:
        """The records' index (compliance search)."""
        return self._open(self.path, self.schema)

    @property
    def messages_handle(self) -> tantivy.Index:
        """The messages' index (history search)."""
        return self._open(self.messages_path, self.messages_schema)

    def ensure_setup(self) -> None:
        self.index_handle  # noqa: B018 - opening creates the folder and the empty index
        self.messages_handle  # noqa: B018
        self.identity_check()

    # -- identity: the folder answers for one database only --------------------------------

    @property
    def identity_path(self) -> Path:
        return self.root / IDENTITY_FILE

    def _stored_identity(self) -> str | None:
        try:
            return json.loads(self.identity_path.read_text())["database_id"]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _document_count(self) -> int:
        return sum(index.searcher().num_docs for index in (self.index_handle, self.messages_handle))

    def _newest_record(self) -> int:
        found = self.index_handle.searcher().search(
            tantivy.Query.all_query(), limit=1, count=False, order_by_field="record"
        )
        return int(found.hits[0][0]) if found.hits else 0

    def identity_check(self) -> None:
        """Make sure the folder was built from this database before it answers (once per
        process): a folder naming another database, or holding records this database does
        not have yet (a restored backup), is emptied and rebuilt from the archive."""
        if self._identity_checked:
            return
        from archiving.search.indexing import search_reindex
        from archiving.search.selectors import search_database_id

        with transaction.atomic():
            database_id = search_database_id(lock=True)  # one process decides, the others wait
            for index in (self.index_handle, self.messages_handle):
                index.reload()
            stored = self._stored_identity()
            # Records waiting for their removal may still be in the folder.
            newest = max(
                ArchiveRecord.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
                ArchiveIndexOutbox.objects.filter(record_id__isnull=False)
                .order_by("-record_id")
                .values_list("record_id", flat=True)
                .first()
                or 0,
            )
            if stored == database_id and self._newest_record() <= newest:
                self._identity_checked = True
                return
            if stored is None and self._document_count() == 0:
                reason = ""  # a new folder: the outbox fills it (or search_reindex, if told)
            elif stored != database_id:
                reason = f"the index was built from another database ({stored or 'unknown'})"
            else:
                reason = "the index holds records this database does not (a restored backup)"
            self.clear()
            self.identity_path.parent.mkdir(parents=True, exist_ok=True)
            written = self.identity_path.with_suffix(".tmp")
            written.write_text(json.dumps({"database_id": database_id}))
            written.replace(self.identity_path)
            self._identity_checked = True
            already_indexed = ArchiveSearchEntry.objects.exists()
            if reason or already_indexed:
                # What the database believes indexed is not in this folder: rebuild it all.
                search_reindex(
                    actor=None,
                    reason=reason or "a new index folder for a database already indexed",
                )

    def _writer(self, index: tantivy.Index | None = None) -> tantivy.IndexWriter:
        """Take an index's single writer, waiting while another process holds it."""
        index = index or self.index_handle
        deadline = time.monotonic() + WRITER_WAIT_SECONDS
        delay = 0.01
        while True:
            try:
                return index.writer(heap_size=WRITER_HEAP, num_threads=1)
            except ValueError as exc:  # tantivy's LockBusy
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise WriterBusy(f"The search index writer is busy: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _commit(self, writer: tantivy.IndexWriter, index: tantivy.Index | None = None) -> None:
        writer.commit()
        writer.wait_merging_threads()  # releases the writer lock for the next batch
        (index or self.index_handle).reload()

    # -- writing -------------------------------------------------------------------------

    def _document(self, item: IndexItem) -> tantivy.Document:
        record = item.record
        fields = {
            "record": record.pk,
            "occurred_us": microseconds(record.occurred_at),
            "conversation": record.conversation_id,
            "participants": list(item.participant_ids),
            "external": 1 if record.is_external else 0,
            "kind": record.conversation_kind,
            "event": record.event,
            "sender": record.actor_username,
            "words": index_text(record.body),
        }
        if record.actor_id is not None:
            fields["sender_id"] = record.actor_id
        return tantivy.Document.from_dict(fields, self.schema)

    def index(self, items: list[IndexItem]) -> dict[int, str]:
        if not items:
            return {}
        self.identity_check()
        writer = self._writer()
        try:
            # Under the writer lock: a record purged since the batch was read stays out.
            alive = records_existing([item.record.pk for item in items])
            for item in items:
                writer.delete_documents_by_term("record", item.record.pk)
                if item.record.pk in alive:
                    writer.add_document(self._document(item))
            self._commit(writer)
        except BaseException:
            writer.rollback()
            raise
        return {}

    def forget(self, entries: list[tuple[int, int]]) -> dict[int, str]:
        if not entries:
            return {}
        self.identity_check()
        writer = self._writer()
        try:
            for record_id, _ in entries:
                writer.delete_documents_by_term("record", record_id)
            self._commit(writer)
        except BaseException:
            writer.rollback()
            raise
        return {}

    def clear(self) -> None:
        for index in (self.index_handle, self.messages_handle):
            writer = self._writer(index)
            writer.delete_all_documents()
            self._commit(writer, index)

    # -- history search: the messages collection -----------------------------------------

    def messages_index(self, items: list[MessageItem]) -> dict[int, str]:
        if not items:
            return {}
        self.identity_check()
        index = self.messages_handle
        writer = self._writer(index)
        try:
            for item in items:
                writer.delete_documents_by_term("message", item.message_id)
                writer.add_document(
                    tantivy.Document.from_dict(
                        {
                            "message": item.message_id,
                            "conversation": item.conversation_id,
                            "seq": item.seq,
                            "created_us": microseconds(item.created_at),
                            "words": index_text(item.body),
                        },
                        self.messages_schema,
                    )
                )
            self._commit(writer, index)
        except BaseException:
            writer.rollback()
            raise
        return {}

    def messages_forget(self, entries: list[tuple[int, int]]) -> dict[int, str]:
        if not entries:
            return {}
        self.identity_check()
        index = self.messages_handle
        writer = self._writer(index)
        try:
            for message_id, _ in entries:
                writer.delete_documents_by_term("message", message_id)
            self._commit(writer, index)
        except BaseException:
            writer.rollback()
            raise
        return {}

    def readable_query(self, readable: tuple[Readable, ...]) -> tantivy.Query:
        """Return the employee's scope: any readable conversation, within its bounds."""
        schema, query, integer = self.messages_schema, tantivy.Query, tantivy.FieldType.Integer
        whole = [r.conversation_id for r in readable if r.after_seq == 0 and r.until is None]
        should: list[tantivy.Query] = []
        if whole:
            should.append(query.term_set_query(schema, "conversation", whole))
        for r in readable:
            if r.after_seq == 0 and r.until is None:
                continue
            clauses = [
                query.term_query(schema, "conversation", r.conversation_id),
                query.range_query(
                    schema, "seq", integer, lower_bound=r.after_seq, include_lower=False
                ),
            ]
            if r.until is not None:
                clauses.append(
                    query.range_query(
                        schema, "created_us", integer, upper_bound=microseconds(r.until)
                    )
                )
            should.append(query.boolean_query([(tantivy.Occur.Must, c) for c in clauses]))
        return query.boolean_query([(tantivy.Occur.Should, q) for q in should])

    def messages_search(self, request: HistoryRequest) -> list[int]:
        if not request.readable:
            return []
        self.identity_check()
        index = self.messages_handle
        index.reload()
        clauses = [
            (tantivy.Occur.Must, self.readable_query(request.readable)),
            (tantivy.Occur.Must, self.text_query(request.node, schema=self.messages_schema)),
        ]
        if request.before_id is not None:
            before = tantivy.Query.range_query(
                self.messages_schema,
                "message",
                tantivy.FieldType.Integer,
                upper_bound=request.before_id,
                include_upper=False,
            )
            clauses.append((tantivy.Occur.Must, before))
        found = index.searcher().search(
            tantivy.Query.boolean_query(clauses),
            limit=request.limit,
            count=False,
            order_by_field="message",
        )
        return [int(message_id) for message_id, _ in found.hits]

    def refresh(self) -> None:
        self.index_handle.reload()

    # -- reading -------------------------------------------------------------------------

    def text_query(self, node: Node, *, schema: tantivy.Schema | None = None) -> tantivy.Query:
        """Return the engine query of a tree, on the normalised words."""
        schema = schema or self.schema
        if isinstance(node, Term):
            if node.is_prefix:
                return tantivy.Query.regex_query(schema, "words", re.escape(node.words[0]) + ".*")
            if node.is_phrase:
                return tantivy.Query.phrase_query(schema, "words", list(node.words))
            return tantivy.Query.term_query(schema, "words", node.words[0])
        if isinstance(node, Or):
            return tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Should, self.text_query(child, schema=schema))
                    for child in node.children
                ]
            )
        if isinstance(node, Not):  # pragma: no cover - the parser refuses a NOT standing alone
            raise ValueError("a NOT must be ANDed with a positive term")
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.MustNot, self.text_query(child.child, schema=schema))
                if isinstance(child, Not)
                else (tantivy.Occur.Must, self.text_query(child, schema=schema))
                for child in node.children
            ]
        )

    def scope_queries(self, scope: Scope) -> list[tantivy.Query]:
        """Return the filter clauses of a scope (each must match)."""
        schema = self.schema
        query = tantivy.Query
        filters: list[tantivy.Query] = []
        if scope.participant_ids:
            filters.append(
                query.term_set_query(schema, "participants", list(scope.participant_ids))
            )
        if scope.sender_ids:
            filters.append(query.term_set_query(schema, "sender_id", list(scope.sender_ids)))
        if scope.conversation_ids:
            filters.append(
                query.term_set_query(schema, "conversation", list(scope.conversation_ids))
            )
        if scope.kinds:
            kinds: list[tantivy.Query] = []
            plain = [kind for kind in scope.kinds if kind != "external"]
            if plain:
                kinds.append(query.term_set_query(schema, "kind", plain))
            if "external" in scope.kinds:
                kinds.append(query.term_query(schema, "external", 1))
            filters.append(query.boolean_query([(tantivy.Occur.Should, q) for q in kinds]))
        if scope.events or scope.event_prefixes:
            events: list[tantivy.Query] = []
            if scope.events:
                events.append(query.term_set_query(schema, "event", list(scope.events)))
            events.extend(
                query.regex_query(schema, "event", re.escape(prefix) + ".*")
                for prefix in scope.event_prefixes
            )
            filters.append(query.boolean_query([(tantivy.Occur.Should, q) for q in events]))
        if scope.start is not None or scope.end is not None:
            filters.append(
                query.range_query(
                    schema,
                    "occurred_us",
                    tantivy.FieldType.Integer,
                    lower_bound=microseconds(scope.start) if scope.start is not None else None,
                    upper_bound=microseconds(scope.end) if scope.end is not None else None,
                    include_upper=scope.end is None,
                )
            )
        return filters

    def _query(self, node: Node | None, filters: list[tantivy.Query]) -> tantivy.Query:
        clauses = [(tantivy.Occur.Must, q) for q in filters]
        if node is not None:
            clauses.append((tantivy.Occur.Must, self.text_query(node)))
        if not clauses:
            return tantivy.Query.all_query()
        if len(clauses) == 1:
            return clauses[0][1]
        return tantivy.Query.boolean_query(clauses)

    def _after(self, after: tuple[datetime, int]) -> tantivy.Query:
        """Return the keyset condition (occurred_us, record) < after."""
        query = tantivy.Query
        moment, record_id = microseconds(after[0]), after[1]
        integer = tantivy.FieldType.Integer
        earlier = query.range_query(
            self.schema, "occurred_us", integer, upper_bound=moment, include_upper=False
        )
        same_moment = query.boolean_query(
            [
                (tantivy.Occur.Must, query.term_query(self.schema, "occurred_us", moment)),
                (
                    tantivy.Occur.Must,
                    query.range_query(
                        self.schema, "record", integer, upper_bound=record_id, include_upper=False
                    ),
                ),
            ]
        )
        return query.boolean_query(
            [(tantivy.Occur.Should, earlier), (tantivy.Occur.Should, same_moment)]
        )

    def _page_keys(
        self, searcher: tantivy.Searcher, query: tantivy.Query, size: int
    ) -> list[tuple[int, int]]:
        """Return up to `size` (occurred_us, record) keys of the matches, newest first."""
        found = searcher.search(query, limit=size, count=False, order_by_field="occurred_us")
        if not found.hits:
            return []
        moments = [key for key, _ in found.hits]
        records = searcher.fast_field_values("record", [address for _, address in found.hits])
        keys = list(zip(moments, records, strict=True))
        if len(keys) < size:
            return sorted(keys, reverse=True)
        # The cut may fall among records sharing the last timestamp: take those in record order.
        boundary = moments[-1]
        keys = [key for key in keys if key[0] > boundary]
        tied_query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, query),
                (
                    tantivy.Occur.Must,
                    tantivy.Query.term_query(self.schema, "occurred_us", boundary),
                ),
            ]
        )
        tied = searcher.search(tied_query, limit=MAX_TIES, count=False, order_by_field="record")
        tied_records = searcher.fast_field_values("record", [address for _, address in tied.hits])
        keys.extend((boundary, record_id) for record_id in sorted(tied_records, reverse=True))
        return sorted(keys, reverse=True)[:size]

    def search(self, request: SearchRequest) -> SearchResult:
        self.identity_check()
        index = self.index_handle
        index.reload()  # another process (the indexing worker) may have committed since
        searcher = index.searcher()
        filters = self.scope_queries(request.scope)
        matching = self._query(request.node, filters)
        total = searcher.search(matching, limit=1, count=True).count
        page_query = matching
        if request.after is not None:
            page_query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, matching), (tantivy.Occur.Must, self._after(request.after))]
            )
        keys = self._page_keys(searcher, page_query, request.page_size + 1)
        has_more = len(keys) > request.page_size
        keys = keys[: request.page_size]
        loaded = ArchiveRecord.objects.defer("prev_hash", "record_hash", "payload").in_bulk(
            [record_id for _, record_id in keys]
        )
        rows = [loaded[record_id] for _, record_id in keys if record_id in loaded]
        hits = [hit_from_record(row, node=request.node) for row in rows]
        next_after = None
        if has_more:
            moment, record_id = keys[-1]
            next_after = (EPOCH + timedelta(microseconds=moment), record_id)
        return SearchResult(
            total=total,
            hits=hits,
            next_after=next_after,
            facets=self.facets(searcher, matching) if request.with_facets else {},
        )

    def facets(
        self, searcher: tantivy.Searcher, query: tantivy.Query
    ) -> dict[str, list[FacetCount]]:
        """Return the top senders and conversations and the count per day, over every match."""
        # Ask for more buckets than shown, then order ties by value as the other backends do.
        size = FACET_SIZE * 5
        aggregations = searcher.aggregate(
            query,
            {
                "senders": {"terms": {"field": "sender", "size": size}},
                "conversations": {"terms": {"field": "conversation", "size": size}},
                "days": {
                    "histogram": {"field": "occurred_us", "interval": DAY_US, "min_doc_count": 1}
                },
            },
        )

        def top(name: str) -> list[FacetCount]:
            buckets = sorted(
                aggregations[name]["buckets"], key=lambda b: (-b["doc_count"], b["key"])
            )
            return [
                FacetCount(
                    value=int(b["key"]) if name == "conversations" else b["key"],
                    count=b["doc_count"],
                )
                for b in buckets[:FACET_SIZE]
            ]

        days = [
            FacetCount(
                value=(date(1970, 1, 1) + timedelta(days=int(b["key"]) // DAY_US)).isoformat(),
                count=b["doc_count"],
            )
            for b in aggregations["days"]["buckets"]
            if b["doc_count"]
        ]
        return {"senders": top("senders"), "conversations": top("conversations"), "days": days}
