"""Celery edge of presence: thin, idempotent wrappers."""

from celery import shared_task

from presence import distribution_groups, services


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


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def contact_groups_follow(person_ids: list[int]) -> int:
    """Move distribution-group watchers after a directory sync moved these people."""
    return distribution_groups.contact_groups_follow(person_ids=person_ids)
