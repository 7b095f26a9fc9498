"""Every search backend, for the suites that must pass on each: the archive's conformance
suite and employees' history search (one search core, both audiences).

"database" is SQLite FTS5 or PostgreSQL, whichever the test database is; "tantivy" an
embedded index in a fresh folder per test; "elasticsearch_fake" the Elasticsearch backend
against the wire-level fake (tests/archiving/es_fake.py); "elasticsearch" a real cluster when
ELASTICSEARCH_URL is set.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archiving.search.backend import backend_get, backend_reset
from archiving.search.indexing import search_index_pending

BACKENDS = ["database", "tantivy", "elasticsearch_fake"]
if os.environ.get("ELASTICSEARCH_URL"):
    BACKENDS.append("elasticsearch")


@contextmanager
def search_backend_use(name: str, *, settings, tmp_path: Path) -> Iterator[str]:
    """Configure the named backend for the duration of a test."""
    fake = None
    if name == "tantivy":
        settings.PARLEY_ARCHIVE_SEARCH_BACKEND = "tantivy"
        settings.PARLEY_SEARCH_INDEX_DIR = tmp_path / "search-index"
    elif name == "elasticsearch_fake":
        from tests.archiving.es_fake import ElasticsearchFake

        fake = ElasticsearchFake()
        fake.start()
        settings.ELASTICSEARCH_URL = fake.url
        settings.PARLEY_ARCHIVE_SEARCH_BACKEND = "elasticsearch"
        settings.PARLEY_ARCHIVE_SEARCH_INDEX = "parley-archive-test"
    elif name == "elasticsearch":
        settings.ELASTICSEARCH_URL = os.environ["ELASTICSEARCH_URL"]
        settings.PARLEY_ARCHIVE_SEARCH_BACKEND = "elasticsearch"
        settings.PARLEY_ARCHIVE_SEARCH_INDEX = f"parley-archive-test-{os.getpid()}"
    else:
        settings.PARLEY_ARCHIVE_SEARCH_BACKEND = "database"
    backend_reset()
    try:
        yield name
    finally:
        backend_reset()
        if fake is not None:
            fake.stop()


def index_drain() -> int:
    """Run the indexing task until the outbox is empty and make everything searchable."""
    done = search_index_pending()
    backend_get().refresh()
    return done
