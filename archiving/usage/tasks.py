"""Celery edge of usage reports: refresh from the archive, purge by their own retention."""

from celery import shared_task

from archiving.usage import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def usage_refresh() -> int:
    """Recompute the conversation-days touched by newly captured archive records."""
    return services.usage_refresh()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def usage_purge() -> int:
    """Delete usage rows past PARLEY_USAGE_RETENTION_DAYS."""
    return services.usage_purge()
