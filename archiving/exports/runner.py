"""Run an export job: resumable, deterministic, and never "completed" with a gap.

Design. The first start takes the chain heads of every conversation in scope and counts the
expected records from the archive; both are kept in the job, so a restart covers exactly the
same records. Records stream in (conversation_id, chain_index) order and are cut into
conversation-day slices; each slice becomes one file, written to a temporary name and renamed,
and only then recorded in the job with its hash and its last key, in one UPDATE that also
refreshes the heartbeat and fails if the job was cancelled. A task that dies loses at most the
slice it was writing: the next attempt deletes files the job does not list and carries on after
the last key. Nothing in a file depends on the wall clock or the attempt, so a resumed export
is byte-identical to an uninterrupted one. At the end the written count is checked against the
expected count and every file is re-hashed; any difference fails the job with the reason.
"""

import logging
import shutil
import time
from datetime import UTC, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone, translation

from archiving.exports import manifest as manifests
from archiving.exports.scope import ResolvedScope
from archiving.exports.transcript import Slice, people_lookup
from archiving.models import ArchiveEvent, ArchiveRecord, ExportFile, ExportJob, ExportStatus
from archiving.naming import conversation_names
from archiving.signing import public_key_pem, sign

logger = logging.getLogger(__name__)

MEMBERSHIP_EVENTS = (
    ArchiveEvent.CONVERSATION_CREATED,
    ArchiveEvent.PARTICIPANT_JOINED,
    ArchiveEvent.PARTICIPANT_LEFT,
)


class ExportFailed(Exception):
    """The export cannot be completed as asked; the reason goes to the job."""


class TransientExportError(Exception):
    """A dependency (the Exchange server) failed for now; the task retries later."""


class JobBusy(Exception):
    """Another live task holds the job (its heartbeat is fresh)."""


def export_root() -> Path:
    return Path(settings.PARLEY_EXPORT_ROOT)


def job_directory(job: ExportJob) -> Path:
    return export_root() / f"export-{job.pk}"


def job_archive(job: ExportJob) -> Path:
    return export_root() / f"export-{job.pk}.zip"


class _Conversation:
    """What the archive itself says of a conversation: its title and membership changes."""

    def __init__(self, conversation_id: int, head_length: int) -> None:
        rows = list(
            ArchiveRecord.objects.filter(
                conversation_id=conversation_id,
                event__in=MEMBERSHIP_EVENTS,
                chain_index__lt=head_length,
            )
            .order_by("chain_index")
            .values_list("chain_index", "event", "payload", "actor_username", "conversation_kind")
        )
        self.changes = rows
        created = next((r for r in rows if r[1] == ArchiveEvent.CONVERSATION_CREATED), None)
        self.title = ((created[2] or {}).get("title") or "") if created else ""
        self.initial = list((created[2] or {}).get("participants") or []) if created else []

    def members_before(self, chain_index: int) -> list[str]:
        members = list(self.initial)
        for index, event, payload, _actor, _kind in self.changes:
            if index >= chain_index:
                break
            person = (payload or {}).get("person")
            if event == ArchiveEvent.PARTICIPANT_JOINED and person and person not in members:
                members.append(person)
            elif event == ArchiveEvent.PARTICIPANT_LEFT and person in members:
                members.remove(person)
        return members

    def display(self, conversation_id: int, kind: str) -> str:
        """Return the room's name, or the names of the conversation's people."""
        return self.title or conversation_names([conversation_id])[conversation_id]


def _claim(job_id: int) -> ExportJob | None:
    """Take the job for this task: queued, or running with a stale heartbeat (a dead worker)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PARLEY_EXPORT_STALE_SECONDS)
    taken = (
        ExportJob.objects.filter(pk=job_id)
        .filter(
            Q(status=ExportStatus.QUEUED)
            | Q(status=ExportStatus.RUNNING, heartbeat_at__lt=stale)
            | Q(status=ExportStatus.RUNNING, heartbeat_at__isnull=True)
        )
        .update(
            status=ExportStatus.RUNNING,
            heartbeat_at=now,
            started_at=Coalesce(F("started_at"), now),
            attempts=F("attempts") + 1,
        )
    )
    job = ExportJob.objects.filter(pk=job_id).first()
    if job is None or job.is_finished:
        return None
    if not taken:
        raise JobBusy(f"export {job_id} is being run by another live task")
    return job


def _writer_for(job: ExportJob):
    from archiving.exports.eml import eml_render
    from archiving.exports.rsmf import rsmf_render

    if job.format == "rsmf":
        return "rsmf", rsmf_render, None
    if job.format == "exchange":
        from archiving.integrations.exchange_export import ExchangeUploader

        return "eml", eml_render, ExchangeUploader(job)
    return "eml", eml_render, None


def export_run(*, job_id: int) -> str:
    """Run (or resume) an export job; return its final status, or raise JobBusy."""
    job = _claim(job_id)
    if job is None:
        return "finished"
    try:
        # Transcripts (sentences, headings, notes) in the job's language; timestamps stay UTC
        # ISO 8601 and RSMF's field names are the standard's, whatever the language.
        with translation.override(job.language or settings.LANGUAGE_CODE):
            return _run(job)
    except TransientExportError:
        # Release the job at once (no stale wait) for the task's retry; nothing is failed.
        ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(heartbeat_at=None)
        raise
    except ExportFailed as failure:
        _finish(job, ExportStatus.FAILED, error=str(failure))
        return ExportStatus.FAILED
    except Exception as error:
        logger.exception("export %s failed", job_id)
        _finish(job, ExportStatus.FAILED, error=f"{type(error).__name__}: {error}")
        raise


def _finish(job: ExportJob, status: str, *, error: str = "", **fields) -> None:
    ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
        status=status, error=error, finished_at=timezone.now(), **fields
    )


def _run(job: ExportJob) -> str:
    scope = ResolvedScope.of(job.scope["filters"])
    state = dict(job.state or {})
    if "heads" not in state:  # first start: the export covers the archive as it is now
        state["heads"] = scope.heads()
        state["expected"] = scope.expected_count(state["heads"])
        ExportJob.objects.filter(pk=job.pk).update(state=state, records_total=state["expected"])
        ExportFile.objects.filter(job=job).delete()
    heads = state["heads"]
    files = list(ExportFile.objects.filter(job=job).order_by("pk"))
    last_key = (files[-1].conversation_id, files[-1].last_chain_index) if files else None
    parts: dict[tuple[int, str], int] = {}
    for f in files:
        parts[(f.conversation_id, f.day.isoformat())] = (
            parts.get((f.conversation_id, f.day.isoformat()), 0) + 1
        )
    records_done = sum(f.records for f in files)
    directory = job_directory(job)
    directory.mkdir(parents=True, exist_ok=True)
    done = {f.path for f in files}
    for path in sorted(directory.rglob("*"), reverse=True):  # leftovers of a killed attempt
        relative = path.relative_to(directory).as_posix()
        if path.is_file() and relative not in done:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    extension, render, uploader = _writer_for(job)
    if uploader is not None:
        try:
            uploader.open()
        except Exception as error:
            if uploader.is_transient(error):
                raise TransientExportError(str(error)) from error
            raise
    records = scope.records(
        heads=heads, after=last_key, batch_size=settings.PARLEY_EXPORT_BATCH_SIZE
    )
    conversations: dict[int, _Conversation] = {}
    custodians = scope.custodians()
    people_cache: dict = {}
    current: Slice | None = None

    pending: list[ExportFile] = []
    checkpointed = [time.monotonic()]

    def checkpoint() -> None:
        """Record the files written since the last checkpoint, with the progress, at once.

        One commit per file costs a disk flush each (~10 ms); files written after the last
        checkpoint are simply written again by a resumed attempt, with the same bytes.
        """
        nonlocal records_done
        records_done += sum(f.records for f in pending)
        with transaction.atomic():
            saved = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
                records_done=records_done, heartbeat_at=timezone.now()
            )
            if not saved:
                raise _Cancelled
            ExportFile.objects.bulk_create(pending)
        pending.clear()
        checkpointed[0] = time.monotonic()

    def flush(slice_: Slice) -> None:
        usernames = set(slice_.usernames) - set(people_cache)
        people_cache.update(people_lookup(usernames))
        slice_.people = {u: people_cache[u] for u in slice_.usernames}
        name = f"{slice_.label}.{extension}"
        data = render(slice_)
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        partial.replace(target)
        if uploader is not None:
            uploader.upload(slice_, data)
        digest, size = manifests.sha256_file(target)
        first, last = slice_.records[0], slice_.records[-1]
        pending.append(
            ExportFile(
                job=job,
                path=name,
                sha256=digest,
                size=size,
                records=len(slice_.records),
                conversation_id=slice_.conversation_id,
                day=slice_.day,
                first_chain_index=first.chain_index,
                last_chain_index=last.chain_index,
            )
        )
        if (
            len(pending) >= settings.PARLEY_EXPORT_CHECKPOINT_FILES
            or time.monotonic() - checkpointed[0] >= settings.PARLEY_EXPORT_CHECKPOINT_SECONDS
        ):
            checkpoint()
        key = (slice_.conversation_id, slice_.day.isoformat())
        parts[key] = parts.get(key, 0) + 1

    try:
        for record in records:
            day = record.occurred_at.astimezone(UTC).date()
            if current is not None and (
                current.conversation_id != record.conversation_id or current.day != day
            ):
                flush(current)
                current = None
            if current is None:
                conversation = conversations.get(record.conversation_id)
                if conversation is None:
                    conversations.clear()  # one conversation at a time: keyset order
                    head = heads[str(record.conversation_id)][0]
                    conversation = _Conversation(record.conversation_id, head)
                    conversations[record.conversation_id] = conversation
                part = 1 + parts.get((record.conversation_id, day.isoformat()), 0)
                members = conversation.members_before(record.chain_index)
                current = Slice(
                    conversation_id=record.conversation_id,
                    kind=record.conversation_kind,
                    title=conversation.display(record.conversation_id, record.conversation_kind),
                    day=day,
                    part=part,
                    members=members,
                    custodians=custodians,
                )
            current.records.append(record)
        if current is not None:
            flush(current)
        checkpoint()
    except _Cancelled:
        export_files_remove(job=job)
        return ExportStatus.CANCELLED
    except Exception as error:
        if uploader is not None and uploader.is_transient(error):
            raise TransientExportError(str(error)) from error
        raise
    finally:
        if uploader is not None:
            uploader.close()
    return _complete(job, state, directory, uploader)


class _Cancelled(Exception):
    pass


def _complete(job: ExportJob, state: dict, directory: Path, uploader) -> str:
    files = [f.to_manifest() for f in ExportFile.objects.filter(job=job).order_by("path")]
    written = sum(f["records"] for f in files)
    if written != state["expected"]:
        raise ExportFailed(
            f"wrote {written} records but the archive holds {state['expected']} in scope; "
            "the export is incomplete and must not be used"
        )
    for entry in files:
        digest, size = manifests.sha256_file(directory / entry["path"])
        if (digest, size) != (entry["sha256"], entry["size"]):
            raise ExportFailed(f"{entry['path']} changed on disk after it was written")
    requester = job.requester
    document = {
        "manifest_version": manifests.MANIFEST_VERSION,
        "generator": "Parley",
        "export": {
            "id": job.pk,
            "format": job.format,
            "exported_at": job.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "exported_by": {
                "username": requester.username,
                "display_name": requester.display_name,
            },
            "scope": job.scope,
        },
        "archive": {
            "chains": {
                conversation: {"length": length, "head_hash": head_hash}
                for conversation, (length, head_hash) in state["heads"].items()
            }
        },
        "counts": {
            "expected_records": state["expected"],
            "written_records": written,
            "files": len(files),
        },
        "files": files,
    }
    if uploader is not None:
        document["exchange"] = uploader.summary()
    body = manifests.canonical_json(document)
    (directory / manifests.MANIFEST_NAME).write_bytes(body)
    # Signed with the server's key, and the public key beside it, so the manifest (and through
    # its hashes every file) can be checked by someone outside Parley (export_verify).
    (directory / manifests.SIGNATURE_NAME).write_text(sign(body) + "\n")
    (directory / manifests.PUBLIC_KEY_NAME).write_text(public_key_pem())
    archive = job_archive(job)
    manifests.zip_directory(
        directory, [f["path"] for f in files] + list(manifests.MANIFEST_FILES), archive
    )
    digest, _size = manifests.sha256_file(directory / manifests.MANIFEST_NAME)
    _finish(
        job,
        ExportStatus.COMPLETED,
        output_dir=str(directory),
        archive_path=str(archive),
        manifest_sha256=digest,
    )
    return ExportStatus.COMPLETED


def export_fail(*, job_id: int, reason: str) -> None:
    """Fail a job that cannot go on (e.g. Exchange stayed unreachable through every retry)."""
    ExportJob.objects.filter(
        pk=job_id, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]
    ).update(status=ExportStatus.FAILED, error=reason, finished_at=timezone.now())


def export_files_remove(*, job: ExportJob) -> None:
    """Delete a job's output files (a cancelled job; its ExportFile rows stay as a record)."""
    shutil.rmtree(job_directory(job), ignore_errors=True)
    job_archive(job).unlink(missing_ok=True)
