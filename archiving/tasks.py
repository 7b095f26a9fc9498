"""Celery edge of the archive: the daily retention run."""

from celery import shared_task

from archiving.retention import retention_run


@shared_task(name="archiving.tasks.retention_run", acks_late=True, task_reject_on_worker_lost=True)
def retention_run_task() -> int:
    """Purge what retention allows (idempotent: a second run finds nothing more to purge)."""
    return retention_run(actor=None).records
