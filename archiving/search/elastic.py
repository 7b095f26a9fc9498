"""Archive search in Elasticsearch, with the official client.

Mapping. `words` holds the normalised words (backend.index_text) under a whitespace analyzer:
queries run on it, so Elasticsearch answers exactly as the reference matcher and the database
backends do (phrases are match_phrase, prefixes are prefix queries on its terms; Chinese and
Japanese characters are words of their own, so no CJK or n-gram analyzer is needed). `body`
keeps the original text for the hit, not indexed: highlights come from Parley's highlighter
(archiving.search.types.highlight), so every backend marks the same words.

Writes. One bulk request per batch, each document with `version_type=external` and the
version the indexer passes (the outbox row id, which only grows): a replay of an older row is
answered 409 and ignored, so it never overwrites a newer write or revives a deleted record.

Reads. The scope is in `bool.filter`, the text in `bool.must`; newest first on
(occurred_us, record) with search_after; facets are aggregations over every match.
"""

import contextlib
import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from elasticsearch import Elasticsearch, NotFoundError

from archiving.search.backend import IndexItem, index_text
from archiving.search.query import Node, Not, Or, Term
from archiving.search.types import (
    EPOCH,
    FacetCount,
    HistoryRequest,
    MessageItem,
    Readable,
    Scope,
    SearchHit,
    SearchRequest,
    SearchResult,
    highlight,
    microseconds,
)

logger = logging.getLogger(__name__)
FACET_SIZE = 20

TEMPLATE = {
    "settings": {
        "number_of_shards": 1,
        "analysis": {
            "analyzer": {
                "parley_words": {"type": "custom", "tokenizer": "whitespace"},
            },
        },
    },
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "record": {"type": "long"},
            "conversation": {"type": "long"},
            "kind": {"type": "keyword"},
            "external": {"type": "boolean"},
            "chain_index": {"type": "long"},
            "event": {"type": "keyword"},
            "sender": {"type": "keyword"},
            "sender_id": {"type": "long"},
            "participants": {"type": "long"},
            "occurred_at": {"type": "date"},
            "occurred_us": {"type": "long"},
            "words": {"type": "text", "analyzer": "parley_words"},
            "body": {"type": "text", "index": False},
        },
    },
}


# History search: each message's current words in an index of its own beside the records'
# (`<index>-messages`), its template ranked above the records' one whose pattern also covers it.
MESSAGES_TEMPLATE = {
    "settings": TEMPLATE["settings"],
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "message": {"type": "long"},
            "conversation": {"type": "long"},
            "seq": {"type": "long"},
            "created_us": {"type": "long"},
            "words": {"type": "text", "analyzer": "parley_words"},
        },
    },
}


def readable_filter(readable: tuple[Readable, ...]) -> dict:
    """Return the employee's scope: any readable conversation, within its bounds."""
    whole = [r.conversation_id for r in readable if r.after_seq == 0 and r.until is None]
    should: list[dict] = [{"terms": {"conversation": whole}}] if whole else []
    for r in readable:
        if r.after_seq == 0 and r.until is None:
            continue
        clauses: list[dict] = [
            {"term": {"conversation": r.conversation_id}},
            {"range": {"seq": {"gt": r.after_seq}}},
        ]
        if r.until is not None:
            clauses.append({"range": {"created_us": {"lte": microseconds(r.until)}}})
        should.append({"bool": {"filter": clauses}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


class BulkRejected(ConnectionError):
    """Elasticsearch could not take a bulk request now (overloaded or failing): retry it."""


def _moment(microseconds: int) -> datetime:
    return EPOCH + timedelta(microseconds=microseconds)


def text_query(node: Node) -> dict:
    """Return the query DSL of a tree, on the normalised words."""
    field = "words"
    if isinstance(node, Term):
        if node.is_prefix:
            return {"prefix": {field: {"value": node.words[0]}}}
        if node.is_phrase:
            return {"match_phrase": {field: {"query": " ".join(node.words)}}}
        return {"match": {field: {"query": node.words[0]}}}
    if isinstance(node, Or):
        return {
            "bool": {
                "should": [text_query(c) for c in node.children],
                "minimum_should_match": 1,
            }
        }
    if isinstance(node, Not):  # pragma: no cover - the parser refuses a NOT standing alone
        raise ValueError("a NOT must be ANDed with a positive term")
    clause: dict = {"must": [text_query(c) for c in node.children if not isinstance(c, Not)]}
    negatives = [text_query(c.child) for c in node.children if isinstance(c, Not)]
    if negatives:
        clause["must_not"] = negatives
    return {"bool": clause}


def scope_filters(scope: Scope) -> list[dict]:
    """Return the bool.filter clauses of a scope."""
    filters: list[dict] = []
    if scope.participant_ids:
        filters.append({"terms": {"participants": list(scope.participant_ids)}})
    if scope.sender_ids:
        filters.append({"terms": {"sender_id": list(scope.sender_ids)}})
    if scope.conversation_ids:
        filters.append({"terms": {"conversation": list(scope.conversation_ids)}})
    if scope.kinds:
        kinds: list[dict] = []
        plain = [kind for kind in scope.kinds if kind != "external"]
        if plain:
            kinds.append({"terms": {"kind": plain}})
        if "external" in scope.kinds:
            kinds.append({"term": {"external": True}})
        filters.append({"bool": {"should": kinds, "minimum_should_match": 1}})
    if scope.events or scope.event_prefixes:
        events: list[dict] = []
        if scope.events:
            events.append({"terms": {"event": list(scope.events)}})
        events.extend({"prefix": {"event": {"value": p}}} for p in scope.event_prefixes)
        filters.append({"bool": {"should": events, "minimum_should_match": 1}})
    if scope.start is not None or scope.end is not None:
        bounds = {}
        if scope.start is not None:
            bounds["gte"] = microseconds(scope.start)
        if scope.end is not None:
            bounds["lt"] = microseconds(scope.end)
        filters.append({"range": {"occurred_us": bounds}})
    return filters


def document(item: IndexItem) -> dict:
    record = item.record
    return {
        "record": record.pk,
        "conversation": record.conversation_id,
        "kind": record.conversation_kind,
        "external": record.is_external,
        "chain_index": record.chain_index,
        "event": record.event,
        "sender": record.actor_username,
        "sender_id": record.actor_id,
        "participants": list(item.participant_ids),
        "occurred_at": record.occurred_at.astimezone(UTC).isoformat(),
        "occurred_us": microseconds(record.occurred_at),
        "words": index_text(record.body),
        "body": record.body,
    }


class ElasticsearchBackend:
    name = "elasticsearch"
    needs_participants = True  # documents carry who was in the conversation

    def __init__(self, *, url: str) -> None:
        self.client = Elasticsearch(url, request_timeout=30, max_retries=2, retry_on_timeout=True)
        self.index_name = settings.PARLEY_ARCHIVE_SEARCH_INDEX
        self.messages_index_name = f"{self.index_name}-messages"

    def ensure_setup(self) -> None:
        self.client.indices.put_index_template(
            name=self.index_name,
            index_patterns=[f"{self.index_name}*"],
            priority=100,
            template=TEMPLATE,
        )
        self.client.indices.put_index_template(
            name=self.messages_index_name,
            index_patterns=[f"{self.messages_index_name}*"],
            priority=200,
            template=MESSAGES_TEMPLATE,
        )
        for name in (self.index_name, self.messages_index_name):
            if not self.client.indices.exists(index=name):
                self.client.indices.create(index=name)

    def _bulk(self, operations: list[dict], *, ignore: set[int]) -> dict[int, str]:
        """Send one bulk request; return the ids Elasticsearch refused for good, with why.

        A 409 (a newer version is there) or 404 (nothing to delete) is what a replay gets and
        is fine. Overload and server errors (429, 5xx) raise BulkRejected so the whole batch
        is retried. Any other refusal (a document the mapping rejects) is returned: its
        outbox row is parked with the reason, without holding up the others.
        """
        if not operations:
            return {}
        response = self.client.bulk(operations=operations)
        if not response["errors"]:
            return {}
        refused: dict[int, str] = {}
        for item in response["items"]:
            result = next(iter(item.values()))
            status = result.get("status", 200)
            if status < 300 or status in ignore:
                continue
            if status == 429 or status >= 500:
                raise BulkRejected(
                    f"Elasticsearch could not take the batch now ({status}): {result.get('error')}"
                )
            logger.error("Elasticsearch refused record %s: %s", result["_id"], result.get("error"))
            error = result.get("error") or {}
            reason = (
                f"{error.get('type', 'error')}: {error.get('reason', '')}"
                if isinstance(error, dict)
                else str(error)
            )
            refused[int(result["_id"])] = f"Elasticsearch answered {status}, {reason}"
        return refused

    def index(self, items: list[IndexItem]) -> dict[int, str]:
        operations: list[dict] = []
        for item in items:
            operations.append(
                {
                    "index": {
                        "_index": self.index_name,
                        "_id": str(item.record.pk),
                        "version": item.version,
                        "version_type": "external",
                    }
                }
            )
            operations.append(document(item))
        return self._bulk(operations, ignore={409})  # 409: a newer version is already there

    def forget(self, entries: list[tuple[int, int]]) -> dict[int, str]:
        operations = [
            {
                "delete": {
                    "_index": self.index_name,
                    "_id": str(record_id),
                    "version": version,
                    "version_type": "external",
                }
            }
            for record_id, version in entries
        ]
        return self._bulk(operations, ignore={404, 409})

    def clear(self) -> None:
        for name in (self.index_name, self.messages_index_name):
            with contextlib.suppress(NotFoundError):  # no index yet: nothing to clear
                self.client.delete_by_query(
                    index=name, query={"match_all": {}}, conflicts="proceed", refresh=True
                )

    def refresh(self) -> None:
        for name in (self.index_name, self.messages_index_name):
            self.client.indices.refresh(index=name)

    # -- history search: the messages collection -----------------------------------------

    def messages_index(self, items: list[MessageItem]) -> dict[int, str]:
        operations: list[dict] = []
        for item in items:
            operations.append(
                {
                    "index": {
                        "_index": self.messages_index_name,
                        "_id": str(item.message_id),
                        "version": item.version,
                        "version_type": "external",
                    }
                }
            )
            operations.append(
                {
                    "message": item.message_id,
                    "conversation": item.conversation_id,
                    "seq": item.seq,
                    "created_us": microseconds(item.created_at),
                    "words": index_text(item.body),
                }
            )
        return self._bulk(operations, ignore={409})  # searchable at the next refresh (1 s)

    def messages_forget(self, entries: list[tuple[int, int]]) -> dict[int, str]:
        operations = [
            {
                "delete": {
                    "_index": self.messages_index_name,
                    "_id": str(message_id),
                    "version": version,
                    "version_type": "external",
                }
            }
            for message_id, version in entries
        ]
        return self._bulk(operations, ignore={404, 409})

    def messages_search_body(self, request: HistoryRequest) -> dict:
        filters = [readable_filter(request.readable)]
        if request.before_id is not None:
            filters.append({"range": {"message": {"lt": request.before_id}}})
        return {
            "query": {"bool": {"filter": filters, "must": [text_query(request.node)]}},
            "sort": [{"message": "desc"}],
            "size": request.limit,
            "track_total_hits": False,
        }

    def messages_search(self, request: HistoryRequest) -> list[int]:
        if not request.readable:
            return []
        response = self.client.search(
            index=self.messages_index_name, **self.messages_search_body(request)
        )
        return [hit["_source"]["message"] for hit in response["hits"]["hits"]]

    def search_body(self, request: SearchRequest) -> dict:
        """Return the keyword arguments of the search request (the body sent)."""
        query: dict = {"bool": {"filter": scope_filters(request.scope)}}
        body: dict = {
            "query": query,
            "sort": [{"occurred_us": "desc"}, {"record": "desc"}],
            "size": request.page_size + 1,
            "track_total_hits": True if request.exact_total else request.total_threshold,
        }
        if request.node is not None:
            query["bool"]["must"] = [text_query(request.node)]
        if request.after is not None:
            occurred_at, record_id = request.after
            body["search_after"] = [microseconds(occurred_at), record_id]
        if request.with_facets:
            body["aggs"] = {
                "senders": {"terms": {"field": "sender", "size": FACET_SIZE}},
                "conversations": {"terms": {"field": "conversation", "size": FACET_SIZE}},
                "days": {
                    "date_histogram": {
                        "field": "occurred_at",
                        "calendar_interval": "day",
                        "format": "yyyy-MM-dd",
                        "min_doc_count": 1,
                    }
                },
            }
        return body

    def search(self, request: SearchRequest) -> SearchResult:
        response = self.client.search(index=self.index_name, **self.search_body(request))
        raw_hits = response["hits"]["hits"]
        has_more = len(raw_hits) > request.page_size
        raw_hits = raw_hits[: request.page_size]
        hits = []
        for raw in raw_hits:
            source = raw["_source"]
            hits.append(
                SearchHit(
                    record_id=source["record"],
                    conversation_id=source["conversation"],
                    conversation_kind=source["kind"],
                    event=source["event"],
                    sender=source["sender"],
                    body=source["body"],
                    occurred_at=_moment(source["occurred_us"]),
                    chain_index=source["chain_index"],
                    highlight=highlight(body=source["body"], node=request.node),
                )
            )
        next_after = None
        if has_more:
            last = raw_hits[-1]["_source"]
            next_after = (_moment(last["occurred_us"]), last["record"])
        facets = {}
        if request.with_facets:
            aggregations = response["aggregations"]
            facets = {
                name: [
                    FacetCount(value=bucket["key"], count=bucket["doc_count"])
                    for bucket in aggregations[name]["buckets"]
                ]
                for name in ("senders", "conversations")
            }
            facets["days"] = [
                FacetCount(value=bucket["key_as_string"], count=bucket["doc_count"])
                for bucket in aggregations["days"]["buckets"]
            ]
        return SearchResult(
            total=response["hits"]["total"]["value"],
            total_is_exact=response["hits"]["total"]["relation"] == "eq",
            hits=hits,
            next_after=next_after,
            facets=facets,
        )
