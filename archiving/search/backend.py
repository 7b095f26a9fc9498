"""The one interface every archive search backend implements, and the choice between them.

`PARLEY_ARCHIVE_SEARCH_BACKEND` = "database" (SQLite FTS5 or PostgreSQL tsvector, whichever the
database is), "tantivy" (an embedded index in `PARLEY_SEARCH_INDEX_DIR`) or "elasticsearch"
(`ELASTICSEARCH_URL`). Backends index the normalised words of
a record (archiving.search.query.words_of) rather than letting their own analyzers tokenise
the raw text, so every backend answers a query exactly as query_matches() does.
"""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from django.conf import settings

from archiving.models import ArchiveRecord
from archiving.search.query import words_of
from archiving.search.types import SearchRequest, SearchResult


@dataclass(frozen=True)
class IndexItem:
    """A record to index, the version to write it with, and who was in its conversation."""

    record: ArchiveRecord
    version: int
    participant_ids: tuple[int, ...] = ()


class SearchBackend(Protocol):
    name: str
    needs_participants: bool  # whether index() wants IndexItem.participant_ids

    def ensure_setup(self) -> None:
        """Create what the backend needs (tables, index template, index); idempotent."""

    def index(self, items: list[IndexItem]) -> dict[int, str]:
        """Write records to the index (an older version never overwrites a newer one); return
        the ids refused for good with the reason (their outbox rows are parked)."""

    def forget(self, entries: list[tuple[int, int]]) -> dict[int, str]:
        """Remove (record id, version) entries from the index; return the ids refused."""

    def clear(self) -> None:
        """Remove everything from the index (before a rebuild)."""

    def refresh(self) -> None:
        """Make everything written so far searchable."""

    def search(self, request: SearchRequest) -> SearchResult:
        """Return one page of hits, newest first, with total and facets."""


def index_text(body: str) -> str:
    """Return the text a backend indexes: the normalised words, separated by single spaces."""
    return " ".join(words_of(body))


@cache
def _backend(name: str, index_dir: str) -> SearchBackend:
    if name == "elasticsearch":
        from archiving.search.elastic import ElasticsearchBackend

        return ElasticsearchBackend(url=settings.ELASTICSEARCH_URL)
    if name == "tantivy":
        from archiving.search.tantivy_index import TantivyBackend

        return TantivyBackend(path=Path(index_dir))
    from archiving.search.database import DatabaseBackend

    return DatabaseBackend()


def backend_get() -> SearchBackend:
    """Return the configured search backend."""
    return _backend(settings.PARLEY_ARCHIVE_SEARCH_BACKEND, str(settings.PARLEY_SEARCH_INDEX_DIR))


def backend_reset() -> None:
    """Forget the configured backend (settings changed, e.g. in tests)."""
    _backend.cache_clear()
