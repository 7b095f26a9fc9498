"""Celery edge of presence: thin, idempotent wrappers."""

from celery import shared_task

from presence import services


@shared_task(ignore_result=True)
def calendar_presence_refresh() -> int:
    """Refresh in-a-meeting / out-of-office from Exchange free/busy (off unless configured)."""
    return services.calendar_presence_refresh()


@shared_task(ignore_result=True)
def presence_sweep() -> int:
    """Expire endpoints of dead server processes and apply the presence timers.

    Every server process with sockets also sweeps; this beat entry covers deployments where
    no surviving process has had a socket yet.
    """
    return services.presence_sweep()
