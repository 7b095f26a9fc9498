"""The audit trail and the archive's integrity check over HTTP; compliance officers only."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from archiving.access import IsComplianceOfficer
from archiving.audit import audit_append
from archiving.models import AuditAction, AuditEntry
from archiving.selectors import archive_and_audit_verify, audit_entry_list
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.moments import MOMENT_OR_EMPTY_SCHEMA as MOMENT
from directory.moments import moment_parse

MAX_PAGE = 200


def _int(raw: str | None, *, name: str, default: int | None, minimum: int) -> int | None:
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(_("%(name)s must be an integer.") % {"name": name}) from None
    if value < minimum:
        raise InvalidInput(
            _("%(name)s must be >= %(minimum)s.") % {"name": name, "minimum": minimum}
        )
    return value


def audit_entry_to_dict(entry: AuditEntry) -> dict:
    return {
        "sequence": entry.sequence,
        "actor": entry.actor_username or None,
        "action": entry.action,
        "target": entry.target,
        "parameters": entry.parameters,
        "result_count": entry.result_count,
        "occurred_at": entry.occurred_at,
        "record_hash": entry.record_hash,
    }


class AuditListApi(APIView):
    """The audit trail, newest first: ?actor=&action=&since=&until=&cursor=&limit=.

    Reading it is audited (audit.view) after the page is read, so a page never shows the
    entry its own request made; `next_cursor` is a sequence bound, so entries appended
    meanwhile (this view's included) never shift later pages.
    """

    permission_classes = [IsComplianceOfficer]

    @extend_schema(
        operation_id="archive_audit_list",
        parameters=[
            OpenApiParameter("actor", str),
            OpenApiParameter("action", {"type": "string", "enum": list(AuditAction.values)}),
            OpenApiParameter("since", MOMENT),
            OpenApiParameter("until", MOMENT),
            OpenApiParameter("cursor", {"type": "integer", "minimum": 0}),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1}),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        action = params.get("action") or None
        if action is not None and action not in AuditAction.values:
            raise InvalidInput(
                _("Unknown action %(action)r; use one of %(AuditAction)s.")
                % {"action": action, "AuditAction": ", ".join(AuditAction)}
            )
        since = moment_parse(params.get("since"), field="since")
        until = moment_parse(params.get("until"), field="until", is_end=True)
        cursor = _int(params.get("cursor"), name="cursor", default=None, minimum=0)
        limit = _int(params.get("limit"), name="limit", default=50, minimum=1)
        limit = min(limit, MAX_PAGE)
        with transaction.atomic():
            entries, next_cursor = audit_entry_list(
                actor_username=params.get("actor") or None,
                action=action,
                since=since,
                until=until,
                before_sequence=cursor,
                limit=limit,
            )
            audit_append(
                actor=request.user,
                action=AuditAction.AUDIT_VIEW,
                target="audit trail",
                parameters={
                    "actor": params.get("actor") or None,
                    "action": action,
                    "since": since.isoformat() if since else None,
                    "until": until.isoformat() if until else None,
                    "cursor": cursor,
                    "limit": limit,
                },
                result_count=len(entries),
            )
        return Response(
            {
                "results": [audit_entry_to_dict(e) for e in entries],
                "next_cursor": str(next_cursor) if next_cursor is not None else None,
            }
        )


class ArchiveVerifyApi(APIView):
    """Re-walk every archive chain (purge anchors included) and the audit trail."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_verify", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        # Verified in its own snapshot first; the verify entry is appended after it.
        archive, audit = archive_and_audit_verify()
        with transaction.atomic():
            report = {
                "intact": archive.is_intact and audit.is_intact,
                "archive": {
                    "intact": archive.is_intact,
                    "chains": archive.chains,
                    "records": archive.records,
                    "purges": archive.purges,
                    "broken": [
                        {
                            "conversation": b.conversation_id,
                            "link": b.chain_index,
                            "record": b.record_id,
                            "reason": b.reason,
                        }
                        for b in archive.broken
                    ],
                    "anchor_problems": archive.anchor_problems,
                },
                "audit": {
                    "intact": audit.is_intact,
                    "entries": audit.entries,
                    "broken_at": audit.broken_at,
                    "reason": audit.reason,
                },
            }
            audit_append(
                actor=request.user,
                action=AuditAction.VERIFY,
                target="archive",
                parameters={
                    "intact": report["intact"],
                    "chains": archive.chains,
                    "records": archive.records,
                    "broken": len(archive.broken) + len(archive.anchor_problems),
                    "audit_intact": audit.is_intact,
                },
                result_count=archive.records,
            )
        return Response(report)
