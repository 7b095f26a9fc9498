"""Celery edge of chat: thin, idempotent wrappers."""

from celery import shared_task

from chat import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def search_index_pending() -> int:
    """Index the messages waiting in the search outbox."""
    return services.search_index_pending()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def category_walls_sweep() -> int:
    """Remove room members that their category walls out (idempotent)."""
    return services.category_walls_sweep()
