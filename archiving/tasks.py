"""Celery edge of archiving: thin, idempotent wrappers.

Archive tasks acknowledge late and are re-queued when their worker dies, so a batch that was
in flight when a worker was killed runs again (indexing is idempotent by design, see
archiving.search.indexing).
"""

from celery import shared_task
from elastic_transport import ConnectionError as SearchConnectionError
from elastic_transport import ConnectionTimeout

from archiving.search import indexing

# Retried with backoff: the search service or the network is down for a while. BulkRejected
# (a ConnectionError) is among them; the rows stay in the outbox whatever happens.
TRANSIENT = (ConnectionError, TimeoutError, SearchConnectionError, ConnectionTimeout)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=8,
)
def search_index_pending() -> int:
    """Index the archive records waiting in the outbox."""
    return indexing.search_index_pending()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def search_reconcile() -> None:
    """Re-queue records missing from the index and forget entries of purged records."""
    indexing.search_reconcile()
    indexing.search_index_pending()
