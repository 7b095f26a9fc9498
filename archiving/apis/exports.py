"""HTTP edge of compliance exports (Compliance group only; every action audited)."""

from pathlib import Path

from django.db.models import Count
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from archiving.access import IsComplianceOfficer
from archiving.exports import services
from archiving.models import ExportFormat, ExportJob, ExportStatus
from archiving.signing import key_fingerprint, public_key_pem
from directory.exceptions import Conflict, NotFound
from directory.exceptions import sentence_gettext as _
from directory.serializers import timestamp

MAX_LIST = 100


def export_to_dict(job: ExportJob) -> dict:
    completed = job.status == ExportStatus.COMPLETED
    return {
        "id": job.pk,
        "status": job.status,
        "format": job.format,
        "language": job.language,
        "scope": job.scope,
        "progress": {"records_done": job.records_done, "records_total": job.records_total},
        "error": job.error,
        "requested_by": job.requester.username,
        "created_at": timestamp(job.created_at),
        "started_at": timestamp(job.started_at),
        "finished_at": timestamp(job.finished_at),
        "files": job.file_count if hasattr(job, "file_count") else job.files.count(),
        "manifest_sha256": job.manifest_sha256 or None,
        "download": reverse("archive-export-download", args=[job.pk]) if completed else None,
    }


def _job_get(export_id: int) -> ExportJob:
    job = ExportJob.objects.select_related("requester").filter(pk=export_id).first()
    if job is None:
        raise NotFound(_("There is no export %(export_id)s.") % {"export_id": export_id})
    return job


class ExportListCreateApi(APIView):
    """List exports (newest first); start an export of a search or a case."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_exports_list", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        jobs = (
            ExportJob.objects.select_related("requester")
            .annotate(file_count=Count("files"))
            .order_by("-pk")[:MAX_LIST]
        )
        return Response({"results": [export_to_dict(job) for job in jobs]})

    # What export_request_validate accepts: a case id or a search, and a format.
    request_schemas = {
        "POST": {
            "type": "object",
            "properties": {
                "case": {"type": "integer", "minimum": 1},
                "search": {"type": "object", "description": "the filters of an archive search"},
                "format": {"type": "string", "enum": list(ExportFormat.values)},
                "language": {
                    "type": "string",
                    "enum": ["en", "ko", "zh-hant"],
                    "description": "the transcripts' language (default: the organisation's)",
                },
            },
            "oneOf": [{"required": ["case", "format"]}, {"required": ["search", "format"]}],
            "additionalProperties": False,
        }
    }

    @extend_schema(operation_id="archive_exports_create", responses={202: OpenApiTypes.OBJECT})
    def post(self, request):
        job = services.export_create(requester=request.user, data=request.data)
        job.refresh_from_db()
        return Response(export_to_dict(job), status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    """Show an export's status and progress."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_exports_get", responses=OpenApiTypes.OBJECT)
    def get(self, request, export_id: int):
        return Response(export_to_dict(_job_get(export_id)))


class ExportCancelApi(APIView):
    """Cancel a queued or running export."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(
        operation_id="archive_exports_cancel", request=None, responses=OpenApiTypes.OBJECT
    )
    def post(self, request, export_id: int):
        job = services.export_cancel(actor=request.user, job_id=export_id)
        return Response(export_to_dict(_job_get(job.pk)))


class ExportDownloadApi(APIView):
    """Stream the zip of a completed export (files + manifest.json)."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_exports_download", responses={200: OpenApiTypes.BINARY})
    def get(self, request, export_id: int):
        job = _job_get(export_id)
        path = Path(job.archive_path)
        if job.status == ExportStatus.COMPLETED and not path.is_file():
            raise Conflict(
                _("The files of export %(pk)s are no longer on this server; export again.")
                % {"pk": job.pk},
                code="export_files_missing",
            )
        services.export_download_record(actor=request.user, job=job)
        response = FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=f"parley-export-{job.pk}.zip",
            content_type="application/zip",
        )
        response["X-Manifest-SHA256"] = job.manifest_sha256
        return response


class SigningKeyApi(APIView):
    """The server's public key (PEM) that signs export manifests and chain anchors.

    Public by nature, so reading it is not audited; it is what a reviewer outside Parley gives
    export_verify --public-key (or any Ed25519 tool) to check an export's manifest.
    """

    permission_classes = [IsComplianceOfficer]

    @extend_schema(
        operation_id="archive_signing_key",
        responses={(200, "application/x-pem-file"): OpenApiTypes.STR},
    )
    def get(self, request):
        pem = public_key_pem()
        response = HttpResponse(pem, content_type="application/x-pem-file")
        response["Content-Disposition"] = 'attachment; filename="parley-signing-key.pem"'
        response["X-Key-SHA256"] = key_fingerprint(pem)
        return response
