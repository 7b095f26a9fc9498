"""The Elasticsearch backend at the wire: exact requests, external versioning, failures.

The official client talks HTTP to tests/archiving/es_fake.py; these tests read what it sent.
"""

from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import BadRequestError

from archiving.models import ArchiveEvent, ArchiveIndexOutbox, ArchiveSearchEntry
from archiving.search.backend import IndexItem, backend_get, backend_reset
from archiving.search.elastic import MESSAGES_TEMPLATE, TEMPLATE, BulkRejected
from archiving.search.indexing import (
    search_index_forget,
    search_index_pending,
    search_index_unpark,
)
from archiving.search.query import query_parse
from archiving.search.selectors import (
    search_capture_lag,
    search_parked_count,
    search_parked_list,
)
from archiving.search.types import Scope, SearchRequest
from archiving.services import capture
from tests.archiving.es_fake import ElasticsearchFake

INDEX = "parley-archive-wire"
AT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def fake(settings):
    server = ElasticsearchFake()
    server.start()
    settings.ELASTICSEARCH_URL = server.url
    settings.PARLEY_ARCHIVE_SEARCH_BACKEND = "elasticsearch"
    settings.PARLEY_ARCHIVE_SEARCH_INDEX = INDEX
    backend_reset()
    yield server
    backend_reset()
    server.stop()


def _capture(alice, bob, body, *, at=AT, conversation=7):
    return capture(
        conversation_id=conversation,
        conversation_kind="direct",
        is_external=False,
        participant_ids=[alice.pk, bob.pk],
        event=ArchiveEvent.MESSAGE_POSTED,
        actor=alice,
        occurred_at=at,
        body=body,
        message_id=1,
    )


def test_setup_puts_the_index_template_then_creates_the_index(fake):
    backend_get().ensure_setup()

    assert [(r.method, r.path) for r in fake.requests] == [
        ("PUT", f"/_index_template/{INDEX}"),
        ("PUT", f"/_index_template/{INDEX}-messages"),
        ("HEAD", f"/{INDEX}"),
        ("PUT", f"/{INDEX}"),
        ("HEAD", f"/{INDEX}-messages"),
        ("PUT", f"/{INDEX}-messages"),
    ]
    assert fake.requests[0].body == {
        "index_patterns": [f"{INDEX}*"],
        "priority": 100,
        "template": TEMPLATE,
    }
    # History search's messages index: its own template, ranked above the records' pattern.
    assert fake.requests[1].body == {
        "index_patterns": [f"{INDEX}-messages*"],
        "priority": 200,
        "template": MESSAGES_TEMPLATE,
    }
    # The text is searched on the normalised words only; the body is kept, not indexed.
    assert TEMPLATE["mappings"]["properties"]["body"] == {"type": "text", "index": False}
    assert TEMPLATE["settings"]["analysis"] == {
        "analyzer": {"parley_words": {"type": "custom", "tokenizer": "whitespace"}}
    }
    assert TEMPLATE["mappings"]["properties"]["words"] == {
        "type": "text",
        "analyzer": "parley_words",
    }

    backend_get().ensure_setup()
    assert [(r.method, r.path) for r in fake.requests[6:]] == [
        ("PUT", f"/_index_template/{INDEX}"),
        ("PUT", f"/_index_template/{INDEX}-messages"),
        ("HEAD", f"/{INDEX}"),
        ("HEAD", f"/{INDEX}-messages"),
    ]


def test_bulk_sends_each_record_with_its_outbox_row_as_external_version(fake, alice, bob):
    backend_get().ensure_setup()
    record = _capture(alice, bob, "\uff2derger at Café 東京")
    row = ArchiveIndexOutbox.objects.get(record_id=record.pk)

    assert search_index_pending() == 1

    (lines,) = fake.bodies("PUT", "/_bulk")
    assert lines == [
        {
            "index": {
                "_index": INDEX,
                "_id": str(record.pk),
                "version": row.pk,
                "version_type": "external",
            }
        },
        {
            "record": record.pk,
            "conversation": 7,
            "kind": "direct",
            "external": False,
            "chain_index": 0,
            "event": "message.posted",
            "sender": "alice",
            "sender_id": alice.pk,
            "participants": sorted([alice.pk, bob.pk]),
            "occurred_at": "2026-03-02T09:30:15.123456+00:00",
            "occurred_us": 1772443815123456,
            "words": "merger at café 東 京",
            "body": "\uff2derger at Café 東京",
        },
    ]
    assert ArchiveSearchEntry.objects.get(record_id=record.pk).version == row.pk
    assert not ArchiveIndexOutbox.objects.exists()


def test_a_stale_replay_never_overwrites_or_revives(fake, alice, bob):
    backend = backend_get()
    backend.ensure_setup()
    record = _capture(alice, bob, "merger")
    search_index_pending()
    version = ArchiveSearchEntry.objects.get(record_id=record.pk).version

    backend.index([IndexItem(record, version=version - 1, participant_ids=(alice.pk,))])
    backend.index([IndexItem(record, version=version, participant_ids=(alice.pk,))])

    doc = fake.indices[INDEX].docs[str(record.pk)]
    assert doc["version"] == version
    assert doc["source"]["participants"] == sorted([alice.pk, bob.pk])
    last_bulk = fake.requests[-1]
    assert last_bulk.body[0]["index"]["version"] == version

    search_index_forget(record_ids=[record.pk])
    search_index_pending()
    assert str(record.pk) not in fake.indices[INDEX].docs
    assert not ArchiveSearchEntry.objects.filter(record_id=record.pk).exists()

    backend.index([IndexItem(record, version=version, participant_ids=())])  # a late replay
    assert str(record.pk) not in fake.indices[INDEX].docs


def test_a_refused_document_is_parked_with_the_reason_without_blocking_the_others(fake, alice, bob):
    backend_get().ensure_setup()
    kept = _capture(alice, bob, "first")
    refused = _capture(alice, bob, "second")
    fake.rejected_ids = {str(refused.pk)}

    assert search_index_pending() == 2

    assert list(ArchiveIndexOutbox.objects.values_list("record_id", flat=True)) == [refused.pk]
    assert list(ArchiveSearchEntry.objects.values_list("record_id", flat=True)) == [kept.pk]
    # Parked: no longer waiting (the capture lag is about the live queue), shown with why.
    assert search_capture_lag().pending == 0
    assert search_parked_count() == 1
    [parked] = search_parked_list()
    assert (parked.record_id, parked.operation) == (refused.pk, "index")
    assert parked.reason == "Elasticsearch answered 400, document_parsing_exception: rejected"
    # A later run does not take the parked row again.
    assert search_index_pending() == 0
    fake.rejected_ids = set()
    assert search_index_unpark() == 1
    assert search_index_pending() == 1
    assert ArchiveSearchEntry.objects.count() == 2
    assert not ArchiveIndexOutbox.objects.exists()


def test_a_full_batch_of_refused_rows_at_the_head_does_not_stop_indexing(fake, alice, bob):
    backend_get().ensure_setup()
    refused = [_capture(alice, bob, f"bad {n}") for n in range(3)]
    good = [_capture(alice, bob, f"good {n}") for n in range(2)]
    fake.rejected_ids = {str(record.pk) for record in refused}

    # Batches of 3: the first batch is nothing but refusals; the run must go on past it.
    assert search_index_pending(batch=3) == 5

    assert sorted(ArchiveSearchEntry.objects.values_list("record_id", flat=True)) == [
        record.pk for record in good
    ]
    assert sorted(ArchiveIndexOutbox.objects.values_list("record_id", flat=True)) == [
        record.pk for record in refused
    ]
    assert search_parked_count() == 3


def test_a_purge_of_a_parked_record_leaves_nothing_parked(fake, alice, bob):
    backend_get().ensure_setup()
    refused = _capture(alice, bob, "bad")
    fake.rejected_ids = {str(refused.pk)}
    search_index_pending()
    assert search_parked_count() == 1
    fake.rejected_ids = set()  # the mapping refused the document, not its removal

    search_index_forget(record_ids=[refused.pk])
    search_index_pending()

    assert not ArchiveIndexOutbox.objects.exists()
    assert search_parked_count() == 0


def test_an_overloaded_cluster_keeps_the_whole_batch_for_a_retry(fake, alice, bob):
    backend_get().ensure_setup()
    records = [_capture(alice, bob, "first"), _capture(alice, bob, "second")]
    fake.overloaded = True

    with pytest.raises(BulkRejected, match="429"):
        search_index_pending()

    assert sorted(ArchiveIndexOutbox.objects.values_list("record_id", flat=True)) == [
        r.pk for r in records
    ]
    assert not ArchiveSearchEntry.objects.exists()
    fake.overloaded = False
    assert search_index_pending() == 2


def test_search_puts_the_scope_in_filter_and_the_text_in_must(fake, alice, bob):
    backend = backend_get()
    backend.ensure_setup()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    request = SearchRequest(
        node=query_parse('"project blue" OR merg* -draft'),
        scope=Scope(
            participant_ids=(alice.pk,),
            conversation_ids=(7, 9),
            kinds=("external", "room"),
            events=("message.posted",),
            event_prefixes=("file.",),
            start=start,
            end=start + timedelta(days=1),
        ),
        page_size=25,
        after=(AT, 41),
    )

    backend.search(request)

    (body,) = fake.bodies("POST", f"/{INDEX}/_search")
    assert body["query"] == {
        "bool": {
            "filter": [
                {"terms": {"participants": [alice.pk]}},
                {"terms": {"conversation": [7, 9]}},
                {
                    "bool": {
                        "should": [{"terms": {"kind": ["room"]}}, {"term": {"external": True}}],
                        "minimum_should_match": 1,
                    }
                },
                {
                    "bool": {
                        "should": [
                            {"terms": {"event": ["message.posted"]}},
                            {"prefix": {"event": {"value": "file."}}},
                        ],
                        "minimum_should_match": 1,
                    }
                },
                {"range": {"occurred_us": {"gte": 1772323200000000, "lt": 1772409600000000}}},
            ],
            "must": [
                {
                    "bool": {
                        "should": [
                            {"match_phrase": {"words": {"query": "project blue"}}},
                            {
                                "bool": {
                                    "must": [{"prefix": {"words": {"value": "merg"}}}],
                                    "must_not": [{"match": {"words": {"query": "draft"}}}],
                                }
                            },
                        ],
                        "minimum_should_match": 1,
                    }
                }
            ],
        }
    }
    assert body["sort"] == [{"occurred_us": "desc"}, {"record": "desc"}]
    assert body["search_after"] == [1772443815123456, 41]
    assert body["size"] == 26
    assert body["track_total_hits"] == 10_000  # exact up to 10,000, then "at least"
    assert "highlight" not in body  # Parley's highlighter marks the hits
    assert body["aggs"]["days"]["date_histogram"]["calendar_interval"] == "day"
    assert body["aggs"]["senders"] == {"terms": {"field": "sender", "size": 20}}


def test_archive_health_shows_parked_rows_and_why(fake, alice, bob, officer, api_client_for):
    backend_get().ensure_setup()
    refused = _capture(alice, bob, "bad")
    fake.rejected_ids = {str(refused.pk)}
    search_index_pending()

    body = api_client_for(officer).get("/api/v1/archive/health/").json()

    assert (body["pending"], body["parked"]) == (0, 1)
    assert [(row["record"], row["operation"], row["reason"]) for row in body["parked_recent"]] == [
        (refused.pk, "index", "Elasticsearch answered 400, document_parsing_exception: rejected")
    ]


def test_the_body_is_not_searchable_so_no_query_can_bypass_the_normalised_words(fake):
    backend = backend_get()
    backend.ensure_setup()

    with pytest.raises(BadRequestError) as refused:
        backend.client.search(index=INDEX, query={"match": {"body": {"query": "merger"}}})

    assert refused.value.body["error"]["reason"] == (
        "failed to create query: Cannot search on field [body] since it is not indexed."
    )


def test_hits_are_marked_by_parleys_highlighter_not_the_cluster(fake, alice, bob):
    backend = backend_get()
    backend.ensure_setup()
    _capture(alice, bob, "\uff2derger at the CAFÉ, 会议纪要 <b>")
    search_index_pending()
    backend.refresh()

    result = backend.search(SearchRequest(node=query_parse("merger café 纪要"), scope=Scope()))

    assert [hit.highlight for hit in result.hits] == [
        "<mark>\uff2derger</mark> at the <mark>CAFÉ</mark>, "
        "会议<mark>纪</mark><mark>要</mark> &lt;b&gt;"
    ]
