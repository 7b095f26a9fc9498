"""Celery edge of chat: thin, idempotent wrappers."""

from celery import shared_task
from django.conf import settings

from chat import services
from chat.services import barriers, conversation_history, notices
from directory.integrations.mailbox import MailboxUnavailableError


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def category_walls_sweep() -> int:
    """Remove room members that their category walls out (idempotent)."""
    return services.category_walls_sweep()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def information_barriers_enforce(person_ids: list[int]) -> int:
    """Close (or reopen) these people's conversations that a wall now divides (idempotent)."""
    return barriers.barriers_enforce(person_ids=person_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def information_barriers_sweep() -> int:
    """Enforce every wall that forbids IM, for everyone it names (idempotent backstop)."""
    return barriers.barriers_enforce_all()


@shared_task(ignore_result=True)
def conversation_history_write_all() -> int:
    """Queue the conversation history of everyone who keeps it in their mailbox (beat)."""
    people = conversation_history.conversation_history_people()
    for person_id in people:
        conversation_history_write.delay(person_id)
    return len(people)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=5,
)
def conversation_history_write(self, person_id: int) -> int:
    """Write one person's new conversation-days to their mailbox; retry when Exchange is busy."""
    try:
        run = conversation_history.conversation_history_write_person(person_id=person_id)
    except MailboxUnavailableError as error:
        raise self.retry(
            exc=error,
            countdown=min(600, settings.PARLEY_MAILBOX_RETRY_SECONDS * 2**self.request.retries),
        ) from error
    return run.written if run else 0


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def missed_im_notices_send() -> int:
    """Mail one missed-IM digest to each offline person due one (idempotent per message)."""
    return notices.missed_im_notices_send()
