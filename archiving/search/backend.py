"""The one interface every search backend implements, and the choice between them.

One search core serves both audiences. It holds two collections, written by one outbox and
one indexing task (archiving.search.indexing): the archive's records, searched by compliance
officers within the compliance scope, and the conversations' messages as they read now (an
edit replaces the text, a deletion removes the message), searched by the people in them
within "my conversations" (HistoryRequest). Messages are a collection of their own, not
archive records: the archive keeps originals, may not hold a conversation no policy archives,
and purges by retention what the conversation still shows.

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
from archiving.search.types import (
    HistoryRequest,
    MessageItem,
    SearchRequest,
    SearchResult,
)


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

    def messages_index(self, items: list[MessageItem]) -> dict[int, str]:
        """Write messages' current text to the history collection; return the ids refused."""

    def messages_forget(self, entries: list[tuple[int, int]]) -> dict[int, str]:
        """Remove (message id, version) entries from the history collection."""

    def messages_search(self, request: HistoryRequest) -> list[int]:
        """Return the ids of the matching messages within the readable scope, newest first."""


def index_text(body: str) -> str:
    """Return the text a backend indexes: the normalised words, separated by single spaces."""
    return " ".join(words_of(body))


class MessageSource(Protocol):
    """Where the history collection's documents come from (chat registers it: the search core
    does not import the apps above it)."""

    def documents(self, message_ids: list[int]) -> dict[int, MessageItem]:
        """Return the messages to index by id; a deleted or missing message is left out."""

    def ids_after(self, last_id: int, limit: int) -> list[int]:
        """Return up to `limit` ids of messages not deleted, after `last_id`, in id order."""


_message_source: list[MessageSource] = []


def message_source_register(source: MessageSource) -> None:
    """Name the source of the history collection (chat's AppConfig.ready calls this)."""
    _message_source[:] = [source]


def message_source() -> MessageSource | None:
    return _message_source[0] if _message_source else None


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
