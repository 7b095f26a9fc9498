"""Celery edge of presence: thin, idempotent wrappers."""

from celery import shared_task
from django.conf import settings

from directory.integrations.mailbox import MailboxUnavailableError
from presence import contact_sync, distribution_groups, services


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


@shared_task(ignore_result=True)
def contacts_mailbox_sync_all() -> int:
    """Queue the contact sync of everyone who keeps contacts in their mailbox (beat)."""
    people = contact_sync.contacts_mailbox_people()
    for person_id in people:
        contacts_mailbox_sync.delay(person_id)
    return len(people)


@shared_task(
    bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True, max_retries=5
)
def contacts_mailbox_sync(self, person_id: int) -> int:
    """Make one person's contacts and their mailbox's alike; retry when Exchange is busy."""
    try:
        run = contact_sync.contacts_mailbox_sync_person(person_id=person_id)
    except MailboxUnavailableError as error:
        raise self.retry(
            exc=error,
            countdown=min(600, settings.PARLEY_MAILBOX_RETRY_SECONDS * 2**self.request.retries),
        ) from error
    return run.to_mailbox + run.to_parley if run else 0
