"""Cases, legal holds and saved searches over HTTP; compliance officers only, all audited."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from archiving import holds
from archiving.access import IsComplianceOfficer
from archiving.audit import audit_append
from archiving.models import AuditAction, Case, LegalHold, SavedSearch
from archiving.naming import conversation_names, people_displays
from archiving.selectors import case_list, hold_list, saved_search_list
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.input_screening import request_object

# Request schemas (see config.api_errors.ParleyAutoSchema): what holds.py accepts. Text is
# stripped before use, so a name must hold something besides spaces.
TEXT = {"type": "string", "nullable": True}
NAME = {"type": "string", "minLength": 1, "maxLength": holds.MAX_NAME, "pattern": r"\S"}
CASE_CREATE = {
    "type": "object",
    "properties": {"name": NAME, "description": TEXT},
    "required": ["name"],
}
CASE_CHANGE = {
    "type": "object",
    "properties": {
        "name": NAME,
        "description": TEXT,
        "status": {"type": "string", "enum": list(Case.Status.values)},
        "owner": {"type": "string", "description": "username of a compliance officer"},
    },
    "additionalProperties": False,
}
HOLD_RELEASE = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": r"\S"}
    },
    "required": ["reason"],
}


def case_to_dict(case: Case) -> dict:
    return {
        "id": case.pk,
        "name": case.name,
        "description": case.description,
        "status": case.status,
        "owner": case.owner.username,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
    }


def hold_to_dict(hold: LegalHold, *, record_count: int | None = None) -> dict:
    if record_count is None:
        record_count = holds.hold_record_count(hold=hold)
    data = holds.hold_parameters(hold)
    data.update(
        id=hold.pk,
        conversations=hold.conversation_ids,
        conversation_names=[
            {"id": c, "name": name} for c, name in conversation_names(hold.conversation_ids).items()
        ],
        custodian_names=[
            {"username": u, "display_name": name}
            for u, name in people_displays(data.get("custodians") or []).items()
        ],
        start=hold.start_at,
        end=hold.end_at,
        is_active=hold.is_active,
        placed_by=hold.placed_by.username,
        placed_at=hold.placed_at,
        released_by=hold.released_by.username if hold.released_by_id else None,
        released_at=hold.released_at,
        release_reason=hold.release_reason,
        record_count=record_count,
    )
    return data


def saved_search_to_dict(search: SavedSearch) -> dict:
    return {
        "id": search.pk,
        "case": search.case_id,
        "name": search.name,
        "query": search.query,
        "filters": search.filters,
        "created_by": search.created_by.username,
        "created_at": search.created_at,
    }


class CaseListCreateApi(APIView):
    """List cases (?status=open|closed); open a new case."""

    permission_classes = [IsComplianceOfficer]

    request_schemas = {"POST": CASE_CREATE}

    @extend_schema(
        operation_id="archive_cases_list",
        parameters=[
            OpenApiParameter("status", {"type": "string", "enum": list(Case.Status.values)})
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        wanted = request.query_params.get("status") or None
        if wanted is not None and wanted not in Case.Status.values:
            raise InvalidInput(_("status must be open or closed."))
        with transaction.atomic():
            results = [case_to_dict(c) for c in case_list(status=wanted)]
            audit_append(
                actor=request.user,
                action=AuditAction.CASE_VIEW,
                target="cases",
                parameters={"status": wanted},
                result_count=len(results),
            )
        return Response({"results": results})

    @extend_schema(responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = request_object(request)
        case = holds.case_create(
            actor=request.user, name=data.get("name"), description=data.get("description", "")
        )
        return Response(case_to_dict(case), status=status.HTTP_201_CREATED)


class CaseDetailApi(APIView):
    """A case with its holds (each with its record count) and saved searches; change it."""

    request_schemas = {"PATCH": CASE_CHANGE}

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_case_get", responses=OpenApiTypes.OBJECT)
    def get(self, request, case_id: int):
        with transaction.atomic():
            case = holds.case_get(case_id=case_id)
            data = case_to_dict(case)
            data["holds"] = [hold_to_dict(h) for h in hold_list(case_id=case.pk)]
            data["saved_searches"] = [
                saved_search_to_dict(s) for s in saved_search_list(case_id=case.pk)
            ]
            audit_append(actor=request.user, action=AuditAction.CASE_VIEW, target=f"case {case.pk}")
        return Response(data)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def patch(self, request, case_id: int):
        case = holds.case_update(
            actor=request.user, case_id=case_id, changes=request_object(request)
        )
        return Response(case_to_dict(case))


class HoldListPlaceApi(APIView):
    """List a case's holds with their record counts; place a hold (it applies at once)."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_case_holds_list", responses=OpenApiTypes.OBJECT)
    def get(self, request, case_id: int):
        with transaction.atomic():
            case = holds.case_get(case_id=case_id)
            results = [hold_to_dict(h) for h in hold_list(case_id=case.pk)]
            audit_append(
                actor=request.user,
                action=AuditAction.HOLD_VIEW,
                target=f"case {case.pk}",
                result_count=len(results),
            )
        return Response({"results": results})

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request, case_id: int):
        data = request_object(request)
        unknown = sorted(set(data) - {"custodians", "conversations", "start", "end", "query"})
        if unknown:
            raise InvalidInput(_("Unknown field(s) %(unknown)s.") % {"unknown": ", ".join(unknown)})
        hold = holds.hold_place(
            actor=request.user,
            case_id=case_id,
            custodians=data.get("custodians"),
            conversations=data.get("conversations"),
            start=data.get("start"),
            end=data.get("end"),
            query=data.get("query") or "",
        )
        return Response(
            hold_to_dict(hold, record_count=hold.record_count), status=status.HTTP_201_CREATED
        )


class HoldDetailApi(APIView):
    """One hold with its record count."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_hold_get", responses=OpenApiTypes.OBJECT)
    def get(self, request, hold_id: int):
        with transaction.atomic():
            hold = holds.hold_get(hold_id=hold_id)
            data = hold_to_dict(hold)
            audit_append(
                actor=request.user,
                action=AuditAction.HOLD_VIEW,
                target=f"hold {hold.pk}",
                result_count=data["record_count"],
            )
        return Response(data)


class HoldReleaseApi(APIView):
    """Release a hold: {"reason": "..."} is required."""

    permission_classes = [IsComplianceOfficer]

    request_schemas = {"POST": HOLD_RELEASE}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def post(self, request, hold_id: int):
        hold = holds.hold_release(
            actor=request.user, hold_id=hold_id, reason=request_object(request).get("reason")
        )
        return Response(hold_to_dict(holds.hold_get(hold_id=hold.pk)))


class SavedSearchListCreateApi(APIView):
    """A case's saved searches; save one ({"name","query","filters"})."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_saved_searches_list", responses=OpenApiTypes.OBJECT)
    def get(self, request, case_id: int):
        with transaction.atomic():
            case = holds.case_get(case_id=case_id)
            results = [saved_search_to_dict(s) for s in saved_search_list(case_id=case.pk)]
            audit_append(
                actor=request.user,
                action=AuditAction.CASE_VIEW,
                target=f"case {case.pk} saved searches",
                result_count=len(results),
            )
        return Response({"results": results})

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request, case_id: int):
        data = request_object(request)
        search = holds.saved_search_create(
            actor=request.user,
            case_id=case_id,
            name=data.get("name"),
            query=data.get("query") or "",
            filters=data.get("filters"),
        )
        return Response(saved_search_to_dict(search), status=status.HTTP_201_CREATED)
