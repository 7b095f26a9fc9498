"""Usage reports over HTTP: administrators and compliance officers, 403 for anyone else."""

from datetime import UTC

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import BasePermission
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


class UsageReportApi(APIView):
    """Totals of conversations, messages, files and people per day, department or kind."""

    permission_classes = [IsAdministratorOrComplianceOfficer]

    @extend_schema(
        parameters=[
            OpenApiParameter("start", str, description="First day (ISO 8601), included"),
            OpenApiParameter("end", str, description="Last day (ISO 8601), included"),
            OpenApiParameter("group_by", str, enum=list(selectors.GROUPINGS)),
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
        return Response({"rows": rows})
