"""The embedded tantivy index: what the conformance suite cannot show (processes, purges).

The conformance suite (test_search_conformance.py) checks that tantivy answers every query
exactly as the other backends; these tests check the index's life: readers in other
processes, the single writer, retention and rebuilds.
"""

import pytest
import tantivy

from archiving import retention
from archiving.models import (
    ArchiveIndexOutbox,
    ArchiveRecord,
    ArchiveSearchEntry,
    AuditAction,
    AuditEntry,
    SearchIndexIdentity,
)
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


def test_a_folder_built_from_another_database_is_emptied_and_rebuilt_before_it_answers(
    index_dir, archive_record, alice, bob
):
    here = archive_record(conversation_id=7, actor=alice, at=1, body="falcon here")
    search_index_pending()
    backend = backend_get()
    # Another database's folder: its documents name records this database never had.
    foreign = IndexItem(
        ArchiveRecord(
            pk=here.pk + 1000,
            conversation_id=99,
            conversation_kind="direct",
            chain_index=0,
            event="message.posted",
            actor_username="mallory",
            body="falcon elsewhere",
            occurred_at=day(2),
        ),
        version=1,
    )
    writer = backend._writer()  # written there, where the record existed
    writer.add_document(backend._document(foreign))
    backend._commit(writer)
    identity = backend.identity_path
    identity.write_text('{"database_id": "00000000-0000-0000-0000-000000000000"}')
    backend_reset()

    reopened = backend_get()  # a new process on this database
    assert _found(reopened, "falcon") == (0, [])  # nothing foreign is ever answered
    search_index_pending()

    assert _found(reopened, "falcon") == (1, [here.pk])
    entry = AuditEntry.objects.get(action=AuditAction.SEARCH_REINDEX)
    assert entry.parameters["reason"].startswith("the index was built from another database")
    assert str(SearchIndexIdentity.objects.get().database_id) in identity.read_text()


def test_a_folder_ahead_of_a_restored_database_is_rebuilt(index_dir, archive_record, alice):
    kept = archive_record(conversation_id=7, actor=alice, at=1, body="falcon kept")
    lost = archive_record(conversation_id=7, actor=alice, at=2, body="falcon after backup")
    search_index_pending()
    ArchiveRecord.objects.filter(pk=lost.pk).delete()  # the backup was taken before it
    ArchiveSearchEntry.objects.filter(record_id=lost.pk).delete()
    backend_reset()

    reopened = backend_get()
    assert _found(reopened, "falcon") == (0, [])
    search_index_pending()

    assert _found(reopened, "falcon") == (1, [kept.pk])
    entry = AuditEntry.objects.get(action=AuditAction.SEARCH_REINDEX)
    assert "restored backup" in entry.parameters["reason"]


def test_a_new_folder_is_filled_by_the_outbox_without_a_rebuild(index_dir, archive_record, alice):
    record = archive_record(conversation_id=7, actor=alice, at=1, body="falcon")
    search_index_pending()

    assert _found(backend_get(), "falcon") == (1, [record.pk])
    assert not AuditEntry.objects.filter(action=AuditAction.SEARCH_REINDEX).exists()
