"""One conformance suite for every archive search backend: the same corpus, cases and hits.

Backends: the database (SQLite FTS5 or PostgreSQL, whichever the test database is; on
PostgreSQL a subprocess also runs the database cases on SQLite), the embedded tantivy index
(a fresh folder per test), the Elasticsearch backend
against the wire-level fake (always), and a real Elasticsearch when ELASTICSEARCH_URL is set.
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from archiving.access import COMPLIANCE_GROUP
from archiving.models import ArchiveIndexOutbox, ArchiveRecord, ArchiveSearchEntry
from archiving.search import services
from archiving.search.backend import backend_get
from archiving.search.indexing import search_index_pending
from archiving.search.query import query_matches, query_parse
from directory.exceptions import InvalidInput
from tests.archiving.search_corpus import (
    DAY1,
    DIRECT,
    EXTERNAL,
    GROUP,
    PINGS,
    ROOM,
    corpus_build,
)
from tests.search_backends import BACKENDS, search_backend_use

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=BACKENDS)
def backend_name(request, settings, tmp_path):
    with search_backend_use(request.param, settings=settings, tmp_path=tmp_path) as name:
        yield name


@pytest.fixture
def officer(make_person):
    person = make_person("olga", display_name="Olga Officer")
    person.groups.add(Group.objects.get_or_create(name=COMPLIANCE_GROUP)[0])
    return person


@pytest.fixture
def corpus(backend_name, make_person):
    people = {name: make_person(name) for name in ("alice", "bob", "carol", "dave")}
    backend = backend_get()
    backend.ensure_setup()
    if backend_name == "elasticsearch":
        backend.clear()
    built = corpus_build(people)
    search_index_pending()
    backend.refresh()
    return built


def run(officer, corpus, query="", *, cursor=None, page_size=200, **filters):
    """Return (labels of hits, page) of one search through the service."""
    page = services.archive_search(
        officer=officer,
        query=query,
        participants=filters.get("participants", []),
        senders=filters.get("senders", []),
        conversations=filters.get("conversations", []),
        kinds=filters.get("kinds", []),
        events=filters.get("events", []),
        start=filters.get("start"),
        end=filters.get("end"),
        cursor=cursor,
        page_size=page_size,
        exact_total=filters.get("exact_total", False),
    )
    return corpus.labels(hit.record_id for hit in page.result.hits), page


TEXT_CASES = [
    ("merger", ["escape", "numbers", "draft_v2", "merger_final", "merger_on_track"]),
    ("MERGER", ["escape", "numbers", "draft_v2", "merger_final", "merger_on_track"]),
    ('"project blue"', ["kickoff_edited", "blue_project", "kickoff"]),
    ('"blue project"', ["blue_project"]),
    (
        "merg*",
        [
            "escape",
            "numbers",
            "draft_v2",
            "term_sheet",
            "mergers_team",
            "merger_final",
            "merger_on_track",
        ],
    ),
    ("merger draft", ["draft_v2", "merger_final"]),
    ("merger AND draft", ["draft_v2", "merger_final"]),
    ("merger -draft", ["escape", "numbers", "merger_on_track"]),
    ("merger NOT draft", ["escape", "numbers", "merger_on_track"]),
    ("(lunch OR dinner) friday", ["kickoff_edited", "kickoff"]),
    ("dinner NOT friday", ["dinner_monday"]),
    ("confidential OR acquisitions OR lait", ["numbers", "cafe", "mergers_team"]),
    ("(merger OR blue) NOT (draft OR project)", ["escape", "numbers", "merger_on_track"]),
    ("café", ["cafe"]),
    ("CAFÉ", ["cafe"]),
    ("cafe", []),
    ("会议纪要", ["cjk"]),
    ("纪要", ["cjk"]),
    ('"会议 纪要"', ["cjk"]),
    ("会纪", []),
    # Korean: a word is found with the particle or ending written after it, whatever the
    # spacing of a compound; syllables not in a row are no match.
    ("회의록", ["ko_spaced", "ko_minutes"]),
    ("회의록을", ["ko_minutes"]),
    ('"회의록"', ["ko_spaced", "ko_minutes"]),
    ("회의*", ["ko_spaced", "ko_minutes"]),
    ("금요일", ["ko_merger", "ko_spaced"]),
    ("금요일 합병", ["ko_merger"]),
    ("계약서 -초안", []),
    ("회의록 NOT 공유", ["ko_minutes"]),
    ("합병 OR 보내", ["ko_merger", "ko_minutes"]),
    ("회록", []),
    ("계약", ["ko_merger"]),
    ("merger_term_sheet", ["term_sheet"]),
    ("dinner", ["kickoff_edited", "dinner_monday", "kickoff"]),
    ("nothingmatchesthis", []),
]


@pytest.mark.parametrize(("query", "expected"), TEXT_CASES)
def test_query_finds_exactly_the_reference_hits(officer, corpus, query, expected):
    labels, page = run(officer, corpus, query)

    assert labels == expected
    assert page.result.total == len(expected)
    # The expectation is also what the reference matcher says of every record.
    node = query_parse(query)
    reference = [
        label
        for label, record in sorted(
            corpus.records.items(), key=lambda item: (item[1].occurred_at, item[1].pk)
        )
        if record.body and query_matches(node, record.body)
    ]
    assert list(reversed(reference)) == expected


def _pings():
    return [f"ping{n}" for n in reversed(range(PINGS))]


FILTER_CASES = [
    (
        {"participants": ["dave"]},
        "",
        [*_pings(), "numbers", "carol_left", "draft_v2", "dave_joined"],
    ),
    ({"participants": ["carol"]}, "merger", ["escape", "draft_v2"]),
    ({"participants": ["carol", "dave"]}, "merger", ["escape", "numbers", "draft_v2"]),
    ({"senders": ["alice"]}, "merger", ["numbers", "merger_on_track"]),
    ({"conversations": [ROOM]}, "merger", ["numbers", "draft_v2"]),
    (
        {"conversations": [DIRECT, EXTERNAL]},
        "merger",
        ["escape", "merger_final", "merger_on_track"],
    ),
    ({"kinds": ["external"]}, "merger", ["escape"]),
    ({"kinds": ["direct"]}, "merger", ["escape", "merger_final", "merger_on_track"]),
    ({"kinds": ["room"]}, "merger", ["numbers", "draft_v2"]),
    ({"kinds": ["group", "external"]}, "merg*", ["escape", "term_sheet"]),
    ({"events": ["edit", "delete"]}, "", ["blue_deleted", "kickoff_edited"]),
    ({"events": ["file"]}, "", ["term_sheet"]),
    ({"events": ["join", "leave"]}, "", ["carol_left", "dave_joined"]),
    ({"events": ["message"]}, "blue", ["blue_project", "kickoff"]),
    ({"events": ["message.edited"]}, "blue", ["kickoff_edited"]),
    (
        {"start": DAY1 + timedelta(days=2), "end": DAY1 + timedelta(days=3)},
        "merger",
        ["draft_v2"],
    ),
    ({"start": DAY1 + timedelta(days=4, hours=3)}, "", _pings()),
    ({"end": DAY1 + timedelta(minutes=2)}, "", ["merger_on_track", "direct_created"]),
    # The scope cannot be escaped by query text: field-like words, OR, quotes and brackets
    # are search terms inside the scope, never filters.
    ({"conversations": [ROOM]}, "conversation:101 OR merger", ["numbers", "draft_v2"]),
    ({"senders": ["dave"]}, '"101" OR merger OR anything OR sender:alice', ["draft_v2"]),
    ({"conversations": [DIRECT]}, "merger' OR 'draft", ["merger_final", "merger_on_track"]),
    ({"conversations": [GROUP]}, 'merger" OR "blue', []),
    ({"conversations": [GROUP]}, "blue) OR (merger", None),
]


@pytest.mark.parametrize(("filters", "query", "expected"), FILTER_CASES)
def test_filters_apply_outside_the_query(officer, corpus, filters, query, expected):
    if expected is None:
        with pytest.raises(InvalidInput):
            run(officer, corpus, query, **filters)
        return

    labels, page = run(officer, corpus, query, **filters)

    assert labels == expected
    assert page.result.total == len(expected)


def test_paging_returns_every_record_once_across_identical_timestamps(officer, corpus):
    seen, cursor, pages = [], None, 0
    while True:
        labels, page = run(officer, corpus, conversations=[ROOM], page_size=3, cursor=cursor)
        seen.extend(labels)
        pages += 1
        assert page.result.total == 7 + PINGS
        cursor = page.next_cursor
        if cursor is None:
            break

    expected = [
        *_pings(),
        "numbers",
        "carol_left",
        "draft_v2",
        "dave_joined",
        "cjk",
        "cafe",
        "room_created",
    ]
    assert seen == expected
    assert pages == 5


def test_a_tampered_or_foreign_cursor_is_refused(officer, corpus):
    _, page = run(officer, corpus, "merger", page_size=2)
    cursor = page.next_cursor
    assert cursor is not None

    with pytest.raises(InvalidInput, match="cursor is not valid"):
        run(officer, corpus, "merger", page_size=2, cursor=cursor[:-3] + "AAA")
    with pytest.raises(InvalidInput, match="different search"):
        run(officer, corpus, "merger", page_size=2, cursor=cursor, conversations=[ROOM])
    second, _ = run(officer, corpus, "merger", page_size=2, cursor=cursor)
    assert second == ["draft_v2", "merger_final"]


def test_facets_count_every_hit_not_just_the_page(officer, corpus):
    _, page = run(officer, corpus, "merger", page_size=1)
    facets = {
        name: [(f.value, f.count) for f in counts] for name, counts in page.result.facets.items()
    }

    assert facets == {
        "senders": [("alice", 2), ("bob", 1), ("carol", 1), ("dave", 1)],
        "conversations": [(DIRECT, 2), (ROOM, 2), (EXTERNAL, 1)],
        "days": [("2026-03-02", 2), ("2026-03-04", 1), ("2026-03-05", 2)],
    }


def test_totals_are_exact_up_to_the_threshold_then_at_least_unless_asked(
    officer, corpus, settings, backend_name
):
    _, exact = run(officer, corpus, "merger")
    settings.PARLEY_ARCHIVE_SEARCH_EXACT_TOTAL_UP_TO = 3

    _, capped = run(officer, corpus, "merger", page_size=2)
    _, asked = run(officer, corpus, "merger", page_size=2, exact_total=True)
    _, small = run(officer, corpus, "dinner", page_size=2)

    assert (exact.result.total, exact.result.total_is_exact) == (5, True)
    # Past the threshold a backend stops counting ("at least 3"); tantivy counts every match
    # for less than the threshold costs the others, so its totals stay exact.
    if backend_name == "tantivy":
        assert (capped.result.total, capped.result.total_is_exact) == (5, True)
    else:
        assert (capped.result.total, capped.result.total_is_exact) == (3, False)
    assert (asked.result.total, asked.result.total_is_exact) == (5, True)
    assert (small.result.total, small.result.total_is_exact) == (3, True)
    assert len(capped.result.hits) == 2


def test_edits_and_deletes_are_records_of_their_own(officer, corpus):
    _, page = run(officer, corpus, events=["edit", "delete"])
    hits = {corpus.labels([hit.record_id])[0]: hit for hit in page.result.hits}

    assert hits["kickoff_edited"].event == "message.edited"
    assert hits["kickoff_edited"].body == "Project Blue kickoff: dinner on Friday"
    assert hits["kickoff_edited"].sender == "carol"
    assert hits["blue_deleted"].event == "message.deleted"
    assert hits["blue_deleted"].sender == "bob"
    assert hits["blue_deleted"].body == ""
    # The original text stays findable next to the edit.
    labels, _ = run(officer, corpus, "lunch")
    assert labels == ["kickoff"]


def test_hits_are_highlighted_as_escaped_html(officer, corpus):
    _, page = run(officer, corpus, "merger OR café", senders=["bob", "carol"])
    highlights = {corpus.labels([h.record_id])[0]: h.highlight for h in page.result.hits}

    assert highlights == {
        "escape": "<mark>merger</mark>? conversation:101 OR &quot;anything&quot; sender:alice",
        "cafe": "<mark>Café</mark> au lait at the <mark>CAFÉ</mark> downstairs",
        "merger_final": "Is the <mark>MERGER</mark> final? Send the draft.",
    }


def test_every_record_is_indexed_once_and_the_outbox_is_drained(corpus):
    assert ArchiveRecord.objects.count() == len(corpus.records)
    assert sorted(ArchiveSearchEntry.objects.values_list("record_id", flat=True)) == sorted(
        r.pk for r in corpus.records.values()
    )
    assert not ArchiveIndexOutbox.objects.exists()


@pytest.mark.skipif(
    os.environ.get("PARLEY_CONFORMANCE_CHILD") == "1", reason="already the SQLite run"
)
def test_conformance_suite_passes_on_sqlite_too(db):
    """On PostgreSQL, run the database cases again on SQLite in a fresh interpreter."""
    if connection.vendor == "sqlite":
        pytest.skip("this run is already on SQLite")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}}
    env["PARLEY_CONFORMANCE_CHILD"] = "1"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "database",
            str(Path(__file__).relative_to(ROOT)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert "failed" not in result.stdout
