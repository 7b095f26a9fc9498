"""Celery edge of presence: thin, idempotent wrappers."""

from celery import shared_task

from presence import services


@shared_task(ignore_result=True)
def calendar_presence_refresh() -> int:
    """Refresh in-a-meeting / out-of-office from Exchange free/busy (off unless configured)."""
    return services.calendar_presence_refresh()
