"""Export throughput: records per second written by the RSMF and EML exporters.

Creates a PostgreSQL database of its own, fills the archive with --records records (real chain
hashes, bulk_create) spread over --conversations conversations and --days UTC days, then runs
one export job per format in this process through the same runner the Celery task calls, and
verifies each export against its manifest. Reported per format: files, bytes, seconds and
records/s (end to end: expected count from the archive, chain heads, rendering, hashing,
manifest and zip), and CPU seconds of this process, which hold on a busy machine.

Run from the repository root (PostgreSQL on 127.0.0.1, user postgres, trust auth)::

    .venv/bin/python -m bench.export                  # 100,000 records, both formats
    .venv/bin/python -m bench.export --records 20000 --formats eml
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fanout import ROOT, admin_sql, log


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.export", description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=100_000, help="archive records to export")
    p.add_argument("--conversations", type=int, default=50)
    p.add_argument("--days", type=int, default=20, help="UTC days the messages span")
    p.add_argument("--formats", default="rsmf,eml")
    p.add_argument("--db-name", default="parley_bench_export")
    p.add_argument("--keep-db", action="store_true")
    return p.parse_args(argv)


def archive_fill(args: argparse.Namespace) -> int:
    from tests.archiving.export_data import conversation_fill

    per_conversation = args.records // args.conversations - 1  # + conversation.created
    step = args.days * 86_400 / per_conversation
    start = datetime(2026, 1, 5, tzinfo=UTC)
    members = ["alice", "bob", "carol", "dave"]
    for conversation_id in range(1, args.conversations + 1):
        conversation_fill(
            conversation_id,
            kind="group",
            members=members,
            start=start + timedelta(seconds=conversation_id),
            count=per_conversation,
            step_seconds=step,
            title=f"Desk {conversation_id}",
            first_message_id=conversation_id * 1_000_000,
        )
    from archiving.models import ArchiveRecord

    return ArchiveRecord.objects.count()


def export_measure(export_format: str, requester) -> dict:
    from django.utils import timezone

    from archiving.exports import runner
    from archiving.exports.manifest import export_verify
    from archiving.exports.services import export_request_validate
    from archiving.models import ExportJob

    scope, export_format = export_request_validate(
        {"format": export_format, "search": {"kinds": ["group"]}}
    )
    job = ExportJob.objects.create(
        requester=requester, scope=scope, format=export_format, created_at=timezone.now()
    )
    t0, cpu0 = time.perf_counter(), time.process_time()
    status = runner.export_run(job_id=job.pk)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    job.refresh_from_db()
    if status != "completed":
        raise RuntimeError(f"export {export_format} ended {status}: {job.error}")
    t1 = time.perf_counter()
    report, manifest = export_verify(runner.job_archive(job))
    verify_seconds = time.perf_counter() - t1
    size = sum(f["size"] for f in manifest["files"])
    return {
        "format": export_format,
        "records": job.records_done,
        "files": len(manifest["files"]),
        "bytes": size,
        "zip_bytes": runner.job_archive(job).stat().st_size,
        "seconds": seconds,
        "records_per_second": job.records_done / seconds,
        "cpu_seconds": cpu,
        "records_per_cpu_second": job.records_done / cpu,
        "verify_seconds": verify_seconds,
        "intact": report.is_intact,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    export_root = Path(tempfile.mkdtemp(prefix="parley-bench-export-"))
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.db_name}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "PARLEY_EXPORT_ROOT": str(export_root),
        "PARLEY_TASKS_EAGER": "1",
    }
    admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{args.db_name}"')
    try:
        os.environ.update(env)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=dict(os.environ),
            check=True,
            capture_output=True,
        )
        import django

        django.setup()
        from directory import services as directory

        requester = directory.person_create(
            username="officer", password="bench-only-password-1", display_name="Officer"
        )
        t0 = time.perf_counter()
        count = archive_fill(args)
        log(f"archive: {count} records in {time.perf_counter() - t0:.1f}s (bulk_create)")
        results = [export_measure(f, requester) for f in args.formats.split(",") if f]
        log("")
        log(
            "format  records  files  MB (files)  MB (zip)  seconds  records/s  "
            "CPU s  records/CPU s  verify s  intact"
        )
        for r in results:
            log(
                f"{r['format']:<7} {r['records']:>7} {r['files']:>6} {r['bytes'] / 1e6:>11.1f} "
                f"{r['zip_bytes'] / 1e6:>9.1f} {r['seconds']:>8.1f} "
                f"{r['records_per_second']:>10.0f} {r['cpu_seconds']:>6.1f} "
                f"{r['records_per_cpu_second']:>14.0f} {r['verify_seconds']:>9.1f}  {r['intact']}"
            )
        log(f"(load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    finally:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(export_root, ignore_errors=True)
        if not args.keep_db:
            admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
