"""Celery edge of supervision: thin, idempotent wrappers taking ids only.

Acknowledged late and re-queued when their worker dies: a batch in flight when a worker was
killed runs again, and writes nothing twice (services.records_evaluate).
"""

from celery import shared_task

from supervision import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def supervision_records_evaluate(record_ids: list[int]) -> int:
    """Judge a batch of captured records under the supervision policies."""
    return services.records_evaluate(record_ids=[int(r) for r in record_ids]).evaluated


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def supervision_sweep() -> int:
    """Judge what a lost capture task left out (Celery beat)."""
    return services.records_sweep().evaluated
