"""The embedded tantivy index: what the conformance suite cannot show (processes, purges).

The conformance suite (test_search_conformance.py) checks that tantivy answers every query
exactly as the other backends; these tests check the index's life: readers in other
processes, the single writer, retention and rebuilds.
"""

import pytest
import tantivy

from archiving import retention
from archiving.models import ArchiveIndexOutbox, ArchiveRecord, ArchiveSearchEntry
from archiving.search import tantivy_index
from archiving.search.backend import IndexItem, backend_get, backend_reset
from archiving.search.indexing import search_index_pending, search_reindex
from archiving.search.query import query_parse
from archiving.search.tantivy_index import TantivyBackend, WriterBusy
from archiving.search.types import SearchRequest
from tests.archiving.conftest import day

pytestmark = pytest.mark.django_db


@pytest.fixture
def index_dir(settings, tmp_path):
    settings.PARLEY_ARCHIVE_SEARCH_BACKEND = "tantivy"
    settings.PARLEY_SEARCH_INDEX_DIR = tmp_path / "search-index"
    backend_reset()
    yield settings.PARLEY_SEARCH_INDEX_DIR
    backend_reset()


def _found(backend, text: str) -> tuple[int, list[int]]:
    result = backend.search(SearchRequest(node=query_parse(text), with_facets=False))
    return result.total, [hit.record_id for hit in result.hits]


def test_a_batch_committed_by_the_writer_is_found_by_a_reader_opened_elsewhere(
    index_dir, archive_record, alice, bob
):
    reader = TantivyBackend(path=index_dir)  # what a web process holds
    reader.ensure_setup()
    assert _found(reader, "falcon") == (0, [])

    record = archive_record(
        conversation_id=7, actor=alice, at=1, body="Falcon", participants=[alice, bob]
    )
    search_index_pending()  # the indexing task, through its own backend instance

    assert _found(reader, "falcon") == (1, [record.pk])


def test_retention_removes_purged_records_from_the_index_in_the_same_run(
    index_dir, archive_record, alice, bob, officer
):
    old = archive_record(
        conversation_id=7, actor=alice, at=0, body="falcon old", participants=[alice, bob]
    )
    kept = archive_record(
        conversation_id=7, actor=bob, at=40, body="falcon new", participants=[alice, bob]
    )
    search_index_pending()
    retention.retention_policy_save(actor=officer, data={"scope": "global", "days": 30})

    # No after-commit callback runs here: the run itself must empty the index of the purge.
    result = retention.retention_run(now=day(35))

    assert result.records == 1
    assert _found(backend_get(), "falcon") == (1, [kept.pk])
    assert not ArchiveIndexOutbox.objects.exists()
    assert list(ArchiveSearchEntry.objects.values_list("record_id", flat=True)) == [kept.pk]
    assert not ArchiveRecord.objects.filter(pk=old.pk).exists()


def test_a_late_write_never_brings_back_a_record_purged_meanwhile(index_dir, archive_record, alice):
    record = archive_record(conversation_id=7, actor=alice, at=1, body="falcon")
    backend = backend_get()
    backend.ensure_setup()
    stale = IndexItem(ArchiveRecord.objects.get(pk=record.pk), version=1)
    ArchiveRecord.objects.filter(pk=record.pk).delete()  # purged after the batch was read

    backend.index([stale])

    assert _found(backend, "falcon") == (0, [])


def test_a_busy_writer_leaves_the_batch_queued_for_the_next_run(
    index_dir, archive_record, alice, monkeypatch
):
    backend = backend_get()
    backend.ensure_setup()
    record = archive_record(conversation_id=7, actor=alice, at=1, body="falcon")
    monkeypatch.setattr(tantivy_index, "WRITER_WAIT_SECONDS", 0.0)
    other_process = tantivy.Index(backend.schema, path=str(backend.path))
    holder = other_process.writer(heap_size=15_000_000, num_threads=1)

    with pytest.raises(WriterBusy):
        search_index_pending()

    assert list(ArchiveIndexOutbox.objects.values_list("record_id", flat=True)) == [record.pk]
    holder.rollback()
    holder.wait_merging_threads()
    assert search_index_pending() == 1
    assert _found(backend, "falcon") == (1, [record.pk])


def test_reindex_rebuilds_the_index_from_the_archive(index_dir, archive_record, alice, officer):
    records = [
        archive_record(conversation_id=7, actor=alice, at=n, body=f"falcon {n}") for n in range(3)
    ]
    search_index_pending()
    backend = backend_get()
    backend.clear()
    assert _found(backend, "falcon") == (0, [])

    assert search_reindex(actor=officer).records == 3
    search_index_pending()

    assert _found(backend, "falcon") == (3, [r.pk for r in reversed(records)])
