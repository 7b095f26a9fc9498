"""An export whose Celery worker is killed (SIGKILL) mid-way resumes and writes the same bytes.

A real worker process on PostgreSQL and RabbitMQ runs the export; the test kills it once some
files are written and others are not, then starts a new worker. The task was acked late, so
RabbitMQ requeues it when the killed worker's connection drops and delivers it again: the new
worker takes over the job (its heartbeat is stale) and resumes after the last
file recorded. The result must equal, byte for byte, an uninterrupted run of the same job.
"""

import shutil
import time

import pytest

from archiving.exports import runner
from archiving.exports.services import export_request_validate
from archiving.models import ExportJob
from tests.archiving.export_data import conversation_fill
from tests.e2e.conftest import (
    cluster_running,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

COMPLETION_BOUND = 90.0  # s: redelivery after the visibility timeout, then the rest of the work


def _tree(directory) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("export_format", ["eml", "rsmf"])
def test_export_killed_with_its_worker_resumes_to_identical_output(
    tmp_path, settings, alice, export_format
):
    root = tmp_path / "exports"
    settings.PARLEY_EXPORT_ROOT = root
    extra = {
        "PARLEY_EXPORT_ROOT": str(root),
        "PARLEY_EXPORT_BATCH_SIZE": "50",
        "PARLEY_EXPORT_CHECKPOINT_FILES": "4",
        "PARLEY_EXPORT_STALE_SECONDS": "2",
        "PARLEY_TASK_VISIBILITY_TIMEOUT": "3",
        "PARLEY_TASK_RESTORE_INTERVAL": "1",
        "PARLEY_TASK_RESTORE_THROTTLE": "1",
    }
    start = runner.timezone.now().replace(microsecond=0) - runner.timedelta(days=10)
    for conversation_id in range(1, 41):
        conversation_fill(
            conversation_id,
            kind="group",
            members=["alice", "bob", "carol"],
            start=start,
            count=150,
            step_seconds=1800,
            first_message_id=conversation_id * 1000,
        )
    scope, export_format = export_request_validate(
        {"format": export_format, "search": {"kinds": ["group"]}}
    )
    job = ExportJob.objects.create(
        requester=alice, scope=scope, format=export_format, created_at=runner.timezone.now()
    )
    (tmp_path / "logs").mkdir()
    with cluster_running(tmp_path / "logs", extra_env=extra, server_names=()) as cluster:
        cluster.task_send("archiving.tasks.export_run", args=[job.pk])
        deadline = time.monotonic() + 30
        while True:
            job.refresh_from_db()
            if job.records_done >= 1500 or (job.status != "running" and job.records_done):
                break
            assert time.monotonic() < deadline, cluster.logs()
            time.sleep(0.02)
        cluster.worker.kill()
        job.refresh_from_db()
        killed_at = (job.status, job.records_done, job.files.count())
        assert killed_at[0] == "running", cluster.logs()
        assert 0 < killed_at[1] < 40 * 151

        cluster.worker_start("celery-worker-2")
        deadline = time.monotonic() + COMPLETION_BOUND
        while job.status == "running":
            assert time.monotonic() < deadline, cluster.logs()
            time.sleep(0.2)
            job.refresh_from_db()
        cluster.wait_until_worker_idle()

    assert job.status == "completed", job.error
    assert job.attempts == 2
    assert (job.records_done, job.records_total) == (40 * 151, 40 * 151)
    resumed = _tree(runner.job_directory(job))
    resumed_zip = runner.job_archive(job).read_bytes()
    # 150 half-hours: 4 days a conversation; + the manifest, its signature and the public key
    assert len(resumed) == 40 * 4 + 3

    shutil.rmtree(runner.job_directory(job))
    runner.job_archive(job).unlink()
    ExportJob.objects.filter(pk=job.pk).update(status="queued", state={}, records_done=0)
    assert runner.export_run(job_id=job.pk) == "completed"  # uninterrupted, in this process

    assert _tree(runner.job_directory(job)) == resumed
    assert runner.job_archive(job).read_bytes() == resumed_zip
