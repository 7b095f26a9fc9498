"""Celery edge of archiving: thin, idempotent wrappers taking ids only."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from archiving.exports.runner import JobBusy, TransientExportError, export_fail
from archiving.exports.runner import export_run as export_job_run
from archiving.models import ExportJob, ExportStatus
from archiving.retention import retention_run

TRANSIENT_RETRIES = 5


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=True,
    task_reject_on_worker_lost=True,
    max_retries=None,
)
def export_run(self, job_id: int) -> str:
    """Run or resume an export job; a job held by another live task is retried later."""
    try:
        return export_job_run(job_id=job_id)
    except JobBusy as busy:
        raise self.retry(countdown=settings.PARLEY_EXPORT_STALE_SECONDS, exc=busy) from busy
    except TransientExportError as error:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # In-process tasks (the embedded deployment) have no queue to retry from later.
            export_fail(job_id=job_id, reason=f"{error}; start the export again later")
            return "failed"
        if self.request.retries >= TRANSIENT_RETRIES:
            export_fail(job_id=job_id, reason=f"gave up after {TRANSIENT_RETRIES} retries: {error}")
            return "failed"
        countdown = min(30 * 2**self.request.retries, 900)
        raise self.retry(countdown=countdown, exc=error) from error


@shared_task(ignore_result=True)
def export_resume_stale() -> int:
    """Queue again the exports whose worker died (running, heartbeat stale) or never started."""
    stale = timezone.now() - timedelta(seconds=settings.PARLEY_EXPORT_STALE_SECONDS)
    job_ids = list(
        ExportJob.objects.filter(
            Q(status=ExportStatus.RUNNING, heartbeat_at__lt=stale)
            | Q(status=ExportStatus.QUEUED, created_at__lt=stale)
        ).values_list("pk", flat=True)
    )
    for job_id in job_ids:
        export_run.delay(job_id)
    return len(job_ids)


@shared_task(name="archiving.tasks.retention_run", acks_late=True, task_reject_on_worker_lost=True)
def retention_run_task() -> int:
    """Purge what retention allows (idempotent: a second run finds nothing more to purge)."""
    return retention_run(actor=None).records
