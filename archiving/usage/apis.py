"""Usage reports over HTTP: administrators and compliance officers, 403 for anyone else."""

import csv
import io
from datetime import UTC

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from archiving.access import is_compliance_officer
from archiving.usage import selectors, services
from directory.exceptions import Forbidden, InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.moments import moment_parse


class IsAdministratorOrComplianceOfficer(BasePermission):
    """DRF permission: staff or in the Compliance group, else 403 (401 when anonymous)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        if (user.is_active and user.is_staff) or is_compliance_officer(user):
            return True
        raise Forbidden(
            _("Usage reports are for administrators and compliance officers."),
            code="not_allowed",
        )


CSV_COLUMNS = ("key", "conversations", "messages", "files", "people", "external_messages")
# A cell a spreadsheet would run as a formula (a room named "=HYPERLINK(...)") is written
# with a leading apostrophe, as OWASP advises for CSV files opened in spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class UsageCsvRenderer(BaseRenderer):
    """`?format=csv`: the report's rows as RFC 4180 CSV (quoted where needed, CRLF lines)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        rows = (data or {}).get("rows", [])
        columns = CSV_COLUMNS + (
            ("conversation",) if any("conversation" in r for r in rows) else ()
        )
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
        return out.getvalue().encode("utf-8")


class UsageReportApi(APIView):
    """Totals of conversations, messages, files and people per day, department, kind or room;
    as JSON, or as a CSV download with `?format=csv`."""

    permission_classes = [IsAdministratorOrComplianceOfficer]
    renderer_classes = [JSONRenderer, UsageCsvRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code >= 400:
            # Refusals keep the API's JSON error document, whatever format was asked for.
            request.accepted_renderer, request.accepted_media_type = (
                JSONRenderer(),
                "application/json",
            )
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200 and request.accepted_renderer.format == "csv":
            name = "parley-usage-{}-{}-{}.csv".format(
                self.group_by, self.start_day or "start", self.end_day or "end"
            )
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @extend_schema(
        parameters=[
            OpenApiParameter("start", str, description="First day (ISO 8601), included"),
            OpenApiParameter("end", str, description="Last day (ISO 8601), included"),
            OpenApiParameter("group_by", str, enum=list(selectors.GROUPINGS)),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        group_by = request.query_params.get("group_by", "day")
        if group_by not in selectors.GROUPINGS:
            raise InvalidInput(
                _("group_by must be one of %(GROUPINGS)s, not %(group_by)r.")
                % {"GROUPINGS": ", ".join(selectors.GROUPINGS), "group_by": group_by}
            )
        start = moment_parse(request.query_params.get("start"), field="start")
        end = moment_parse(request.query_params.get("end"), field="end", is_end=True)
        start_day = start.astimezone(UTC).date() if start else None
        end_day = end.astimezone(UTC).date() if end else None
        if start_day and end_day and start_day > end_day:
            raise InvalidInput(_("start must not be after end."))
        # Rows are derived from the archive after the fact; bring them up to date first.
        services.usage_refresh()
        rows = selectors.usage_report(start=start_day, end=end_day, group_by=group_by)
        self.group_by, self.start_day, self.end_day = group_by, start_day, end_day
        return Response({"rows": rows})
