"""Retention policies, dry runs and purges over HTTP; compliance officers only, all audited."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from archiving import retention
from archiving.access import IsComplianceOfficer
from archiving.audit import audit_append
from archiving.models import AuditAction, RetentionPolicy, RetentionPurge
from archiving.retention.policies import MAX_DAYS
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.input_screening import request_object

# Request schemas (see config.api_errors.ParleyAutoSchema): what retention/policies.py accepts.
DAYS = {"type": "integer", "minimum": 1, "maximum": MAX_DAYS}
IS_ACTIVE = {"type": "boolean"}
POLICY_ID = {"type": "integer", "minimum": 1}


def _new_policy(scope: str, target: dict) -> dict:
    return {
        "type": "object",
        "properties": {
            "scope": {"type": "string", "enum": [scope]},
            "days": DAYS,
            "is_active": IS_ACTIVE,
            **target,
        },
        "required": ["scope", "days", *target],
        "additionalProperties": False,
    }


NEW_POLICY = {
    "oneOf": [
        _new_policy("global", {}),
        _new_policy("person", {"person": {"type": "string", "description": "a username"}}),
        _new_policy("conversation", {"conversation": POLICY_ID}),
    ]
}
POLICY_CHANGE = {
    "type": "object",
    "properties": {"days": DAYS, "is_active": IS_ACTIVE},
    "additionalProperties": False,
}
DRY_RUN = {
    "oneOf": [
        {"type": "object", "maxProperties": 0, "description": "the current policies"},
        *NEW_POLICY["oneOf"],
        {
            "type": "object",
            "properties": {"policy": POLICY_ID, "days": DAYS, "is_active": IS_ACTIVE},
            "required": ["policy"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"policy": POLICY_ID, "delete": {"type": "boolean", "enum": [True]}},
            "required": ["policy", "delete"],
            "additionalProperties": False,
        },
    ]
}


class RetentionPolicyListCreateApi(APIView):
    """List retention policies; create one (the audit entry carries its dry run)."""

    permission_classes = [IsComplianceOfficer]
    request_schemas = {"POST": NEW_POLICY}

    @extend_schema(operation_id="archive_retention_policies_list", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        with transaction.atomic():
            policies = RetentionPolicy.objects.select_related("person").order_by("scope", "pk")
            results = [retention.policy_to_dict(p) for p in policies]
            audit_append(
                actor=request.user,
                action=AuditAction.RETENTION_VIEW,
                target="retention policies",
                result_count=len(results),
            )
        return Response({"results": results})

    @extend_schema(responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        policy, preview = retention.retention_policy_save(
            actor=request.user, data=request_object(request)
        )
        data = retention.policy_to_dict(policy)
        data["dry_run"] = preview.as_dict()
        return Response(data, status=status.HTTP_201_CREATED)


class RetentionPolicyDetailApi(APIView):
    """Change a policy's days or is_active, or delete it (each audited with its dry run)."""

    permission_classes = [IsComplianceOfficer]
    request_schemas = {"PATCH": POLICY_CHANGE}

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def patch(self, request, policy_id: int):
        policy, preview = retention.retention_policy_save(
            actor=request.user, policy_id=policy_id, data=request_object(request)
        )
        data = retention.policy_to_dict(policy)
        data["dry_run"] = preview.as_dict()
        return Response(data)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def delete(self, request, policy_id: int):
        preview = retention.retention_policy_delete(actor=request.user, policy_id=policy_id)
        return Response({"deleted": policy_id, "dry_run": preview.as_dict()})


class RetentionDryRunApi(APIView):
    """What a run would purge with a proposed change, per person and per conversation.

    Body: {} for the current policies; {"scope","person","conversation","days","is_active"}
    for a new policy; {"policy": id, "days"?, "is_active"?} to change one; {"policy": id,
    "delete": true} to remove one. Nothing is saved.
    """

    permission_classes = [IsComplianceOfficer]
    request_schemas = {"POST": DRY_RUN}
    request_body_optional = ("POST",)  # no body: the current policies

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = dict(request_object(request))
        policy_id = data.pop("policy", None)
        delete = data.pop("delete", False)
        if policy_id is not None and (
            not isinstance(policy_id, int) or isinstance(policy_id, bool)
        ):
            raise InvalidInput(_("policy must be a retention policy id."))
        if not isinstance(delete, bool):
            raise InvalidInput(_("delete must be true or false."))
        if delete and policy_id is None:
            raise InvalidInput(_("delete needs the policy to delete."))
        proposal = data if (data or policy_id is not None) and not delete else None
        preview = retention.retention_dry_run(
            actor=request.user, policy_id=policy_id, data=proposal, delete=delete
        )
        return Response(preview.as_dict())


class RetentionPurgeListApi(APIView):
    """The purges retention has made, newest first (counts per conversation)."""

    permission_classes = [IsComplianceOfficer]

    @extend_schema(operation_id="archive_retention_purges_list", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        with transaction.atomic():
            purges = RetentionPurge.objects.select_related("audit_entry").order_by("-pk")[:200]
            results = [
                {
                    "id": p.pk,
                    "run": p.run_id,
                    "run_at": p.run_at,
                    "records_purged": p.records_purged,
                    "conversations": p.conversations,
                    "audit_entry": p.audit_entry.sequence,
                }
                for p in purges
            ]
            audit_append(
                actor=request.user,
                action=AuditAction.RETENTION_VIEW,
                target="retention purges",
                result_count=len(results),
            )
        return Response({"results": results})
