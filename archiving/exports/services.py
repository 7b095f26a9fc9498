"""Export jobs: create, cancel, download; each action audited in its own transaction.

Design. A request is validated completely before anything is stored (a rejection writes no
job, no audit entry and queues no task). The job and its audit entry commit together; the
task is queued after commit with the job id only: credentials (the Exchange account) are read
by the worker from settings, never carried in task arguments.
"""

import hashlib
import json

from django.db import transaction
from django.utils import timezone

from archiving.audit import audit_append
from archiving.exports.runner import export_files_remove
from archiving.exports.scope import export_scope_from_case, search_scope_validate
from archiving.models import AuditAction, ExportFormat, ExportJob, ExportStatus
from directory.exceptions import Conflict, InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.models import Person


def export_request_validate(data) -> tuple[dict, str]:
    """Return (scope, format) of an export request, or raise InvalidInput saying what to fix."""
    if not isinstance(data, dict):
        raise InvalidInput(
            _('Send {"search": {...} or "case": id, "format": "rsmf|eml|exchange"}.')
        )
    allowed = {
        "search",
        "case",
        "format",
        "language",
        "include_released_holds",
        "include_history_views",
    }
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput(
            _("Unknown fields: %(unknown)s; allowed: %(allowed)s.")
            % {"unknown": ", ".join(unknown), "allowed": ", ".join(sorted(allowed))}
        )
    for flag in ("include_released_holds", "include_history_views"):
        if not isinstance(data.get(flag, False), bool):
            raise InvalidInput(_("%(flag)s must be true or false.") % {"flag": flag})
    if "search" in data and ({"include_released_holds", "include_history_views"} & set(data)):
        raise InvalidInput(
            _(
                "include_released_holds and include_history_views go with a case; "
                "a search takes include_history_views among its filters."
            )
        )
    export_format = data.get("format")
    if export_format not in ExportFormat.values:
        raise InvalidInput(
            _("format must be one of %(values)s.") % {"values": ", ".join(ExportFormat.values)},
            code="invalid_format",
        )
    if ("search" in data) == ("case" in data):
        raise InvalidInput(_("Give exactly one of search (filters) or case (a case id)."))
    if export_format == ExportFormat.EXCHANGE:
        from archiving.integrations.exchange_export import exchange_configuration_check

        exchange_configuration_check()
    if "case" in data:
        filters, holds = export_scope_from_case(
            data["case"],
            include_released_holds=data.get("include_released_holds", False),
            include_history_views=data.get("include_history_views", False),
        )
        scope = {"kind": "case", "case": data["case"], "filters": filters, "holds": holds}
    else:
        scope = {"kind": "search", "filters": search_scope_validate(data["search"])}
    return scope, export_format


def export_language_validate(data) -> str:
    """Return the language an export's transcripts are written in: the request's `language`,
    else the organisation's default. RSMF's fields stay as the standard names them."""
    from django.conf import settings

    from directory.locale import language_supported, organisation_defaults

    chosen = data.get("language") if isinstance(data, dict) else None
    if chosen is None:
        return organisation_defaults().language
    code = language_supported(chosen) if isinstance(chosen, str) else None
    if code is None:
        raise InvalidInput(
            _("language must be one of %(codes)s.")
            % {"codes": ", ".join(code for code, _name in settings.LANGUAGES)},
            code="invalid_language",
        )
    return code


def scope_digest(scope: dict) -> str:
    text = json.dumps(scope, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@transaction.atomic
def export_create(*, requester: Person, data) -> ExportJob:
    """Store an export job and its audit entry; queue the task after commit."""
    scope, export_format = export_request_validate(data)
    language = export_language_validate(data)
    job = ExportJob.objects.create(
        requester=requester,
        scope=scope,
        format=export_format,
        language=language,
        created_at=timezone.now(),
    )
    audit_append(
        actor=requester,
        action=AuditAction.EXPORT_CREATE,
        target=f"export:{job.pk}",
        parameters={"format": export_format, "scope": scope, "language": language},
    )
    transaction.on_commit(lambda: _queue(job.pk))
    return job


def _queue(job_id: int) -> None:
    from archiving import tasks

    tasks.export_run.delay(job_id)


@transaction.atomic
def export_cancel(*, actor: Person, job_id: int) -> ExportJob:
    """Cancel a queued or running export; its partial files are removed."""
    job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        from directory.exceptions import NotFound

        raise NotFound(_("There is no export %(job_id)s.") % {"job_id": job_id})
    if job.status not in {ExportStatus.QUEUED, ExportStatus.RUNNING}:
        raise Conflict(
            _("Export %(job_id)s is %(status)s; only a queued or running export can be cancelled.")
            % {"job_id": job_id, "status": job.status},
            code="not_cancellable",
        )
    job.status = ExportStatus.CANCELLED
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "finished_at"])
    audit_append(actor=actor, action=AuditAction.EXPORT_CANCEL, target=f"export:{job.pk}")
    transaction.on_commit(lambda: export_files_remove(job=job))
    return job


@transaction.atomic
def export_download_record(*, actor: Person, job: ExportJob) -> None:
    """Audit a download of a completed export."""
    if job.status != ExportStatus.COMPLETED:
        raise Conflict(
            _("Export %(pk)s is %(status)s; it can be downloaded once completed.")
            % {"pk": job.pk, "status": job.status},
            code="not_completed",
        )
    audit_append(
        actor=actor,
        action=AuditAction.EXPORT_DOWNLOAD,
        target=f"export:{job.pk}",
        parameters={"manifest_sha256": job.manifest_sha256},
    )
