"""Celery edge of chat: thin, idempotent wrappers."""

from celery import shared_task

from chat import services
from chat.services import barriers


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
