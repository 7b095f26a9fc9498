"""Celery edge of archiving: thin, idempotent wrappers taking ids only.

Archive tasks acknowledge late and are re-queued when their worker dies, so a batch that was
in flight when a worker was killed runs again (indexing is idempotent by design, see
archiving.search.indexing; exports resume from their checkpoint).
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from elastic_transport import ConnectionError as SearchConnectionError
from elastic_transport import ConnectionTimeout

from archiving.exports.runner import JobBusy, TransientExportError, export_fail
from archiving.exports.runner import export_run as export_job_run
from archiving.models import ExportJob, ExportStatus
from archiving.retention import retention_run
from archiving.search import indexing
from archiving.usage.tasks import usage_purge, usage_refresh  # noqa: F401 - registers them

TRANSIENT_RETRIES = 5
# Retried with backoff: the search service or the network is down for a while. BulkRejected
# (a ConnectionError) is among them; the rows stay in the outbox whatever happens.
TRANSIENT = (ConnectionError, TimeoutError, SearchConnectionError, ConnectionTimeout)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=8,
)
def search_index_pending() -> int:
    """Index the archive records waiting in the outbox."""
    return indexing.search_index_pending()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def search_reconcile() -> None:
    """Re-queue records missing from the index and forget entries of purged records."""
    indexing.search_reconcile()
    indexing.search_index_pending()


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


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def chain_anchor_daily() -> int:
    """Sign and store today's anchor of every chain head (DESIGN.md section 6)."""
    from archiving.anchors import chain_anchor_create

    return chain_anchor_create(reason="daily").pk
