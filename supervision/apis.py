"""Supervision review over HTTP: members of the Supervision group only (403 otherwise, audited);
reviewers reach only the policies they review and their items (404 for any other id)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.input_screening import request_object
from supervision import selectors, services
from supervision.access import IsSupervisor
from supervision.models import Decision, ItemStatus, Scope
from supervision.serializers import context_to_dict, item_to_dict, messages_for, policy_to_dict

# Schemas (config.api_errors.ParleyAutoSchema adds the error answers).
NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}}
MOMENT = {
    "type": "string",
    "nullable": True,
    "description": "ISO 8601 date or time (UTC when no zone); a bare end date includes that day",
}
POLICY_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": services.MAX_NAME, "pattern": r"\S"},
    "people": {**NAMES, "description": "usernames of supervised people"},
    "departments": {**NAMES, "description": "names of supervised departments"},
    "groups": {**NAMES, "description": "names of supervised groups"},
    "reviewers": {
        **NAMES,
        "minItems": 1,
        "description": "usernames of members of the Supervision group",
    },
    "lexicon": {
        "type": "array",
        "maxItems": services.MAX_LEXICON,
        "items": {"type": "string", "minLength": 1},
        "description": 'entries in the archive query language: word, "a phrase", a OR b, ...',
    },
    "sample_percent": {"type": "number", "minimum": 0, "maximum": 100},
    "scope": {"type": "string", "enum": list(Scope.values)},
    "start": MOMENT,
    "end": MOMENT,
}
POLICY_CREATE = {
    "type": "object",
    "properties": POLICY_FIELDS,
    "required": ["name", "reviewers"],
    "additionalProperties": False,
}
POLICY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        **POLICY_FIELDS,
        "start": {"type": "string", "nullable": True},
        "end": {"type": "string", "nullable": True},
        "created_at": {"type": "string"},
        "open_items": {"type": "integer"},
        "claimed_items": {"type": "integer"},
    },
}
MESSAGE = {
    "type": "object",
    "description": "the message as the public contract writes it (DESIGN.md section 9)",
    "properties": {
        "id": {"type": "integer", "nullable": True},
        "conversation": {"type": "integer"},
        "seq": {"type": "integer", "nullable": True},
        "sender": {
            "type": "object",
            "properties": {"username": {"type": "string"}, "display_name": {"type": "string"}},
        },
        "body": {"type": "string", "nullable": True},
        "created_at": {"type": "string"},
        "edited_at": {"type": "string", "nullable": True},
        "deleted": {"type": "boolean"},
        "client_id": {"type": "string", "nullable": True},
    },
}
ITEM = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "policy": {"type": "integer"},
        "policy_name": {"type": "string"},
        "status": {"type": "string", "enum": list(ItemStatus.values)},
        "reason": {"type": "string", "enum": ["lexicon", "sample"]},
        "matched": {"type": "array", "items": {"type": "string"}},
        "highlight": {
            "type": "string",
            "description": "the captured text as escaped HTML, matched words in <mark>",
        },
        "record": {"type": "integer"},
        "message": MESSAGE,
        "decision": {"type": "string", "nullable": True, "enum": [*Decision.values, None]},
        "comment": {"type": "string", "nullable": True},
        "reviewer": {"type": "string", "nullable": True},
        "case": {"type": "integer", "nullable": True},
        "created_at": {"type": "string"},
        "resolved_at": {"type": "string", "nullable": True},
    },
}
ITEM_WITH_CONTEXT = {
    "type": "object",
    "properties": {
        **ITEM["properties"],
        "context": {
            "type": "object",
            "properties": {
                "conversation": {"type": "integer"},
                "conversation_name": {"type": "string"},
                "records": {"type": "array", "items": {"type": "object"}},
            },
        },
    },
}
RESOLVE = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": list(Decision.values)},
        "comment": {
            "type": "string",
            "maxLength": services.MAX_COMMENT,
            "description": "required for escalated and violation",
        },
        "open_case": {
            "type": "boolean",
            "description": "escalated only: open a case with a legal hold on the sender and "
            "the conversation",
        },
        "case_name": {"type": "string", "maxLength": services.MAX_NAME},
    },
    "required": ["decision"],
    "additionalProperties": False,
}
REASSIGN = {
    "type": "object",
    "properties": {"reviewer": {"type": "string", "minLength": 1, "pattern": r"\S"}},
    "required": ["reviewer"],
    "additionalProperties": False,
}


def _int_param(request, name: str, *, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput(_("%(name)s must be a positive whole number.") % {"name": name})
    return int(raw)


def _item_answer(item) -> dict:
    return item_to_dict(item, message=messages_for([item]).get(item.message_id))


class SupervisionPolicyListApi(APIView):
    """The policies the caller reviews; create a policy."""

    permission_classes = [IsSupervisor]
    request_schemas = {"POST": POLICY_CREATE}

    @extend_schema(
        operation_id="supervision_policies_list",
        responses={
            200: {"type": "object", "properties": {"results": {"type": "array", "items": POLICY}}}
        },
    )
    def get(self, request):
        policies = selectors.policy_list_reviewed_by(reviewer=request.user)
        return Response({"results": [policy_to_dict(p) for p in policies]})

    @extend_schema(
        operation_id="supervision_policies_create",
        responses={201: POLICY},
    )
    def post(self, request):
        data = request_object(request, fields=set(POLICY_FIELDS))
        policy = services.policy_create(actor=request.user, **data)
        return Response(policy_to_dict(policy), status=status.HTTP_201_CREATED)


class SupervisionPolicyDetailApi(APIView):
    """One policy the caller reviews."""

    permission_classes = [IsSupervisor]

    @extend_schema(operation_id="supervision_policies_get", responses={200: POLICY})
    def get(self, request, policy_id: int):
        policy = selectors.policy_get_reviewed_by(reviewer=request.user, policy_id=policy_id)
        return Response(policy_to_dict(policy))


class SupervisionItemListApi(APIView):
    """The review queue: items of the policies the caller reviews, newest first."""

    permission_classes = [IsSupervisor]

    @extend_schema(
        operation_id="supervision_items_list",
        parameters=[
            OpenApiParameter("policy", int, description="a policy id the caller reviews"),
            OpenApiParameter("status", str, enum=list(ItemStatus.values)),
            OpenApiParameter("before", int, description="items older than this id (paging)"),
            OpenApiParameter("limit", int, description="1 to 200 (50)"),
        ],
        responses={
            200: {
                "type": "object",
                "properties": {
                    "results": {"type": "array", "items": ITEM},
                    "next_before": {"type": "integer", "nullable": True},
                },
            }
        },
    )
    def get(self, request):
        limit = _int_param(request, "limit", default=50)
        items = selectors.item_list_reviewed_by(
            reviewer=request.user,
            policy_id=_int_param(request, "policy"),
            status=request.query_params.get("status") or None,
            before=_int_param(request, "before"),
            limit=limit,
        )
        messages = messages_for(items)
        return Response(
            {
                "results": [item_to_dict(i, message=messages.get(i.message_id)) for i in items],
                "next_before": items[-1].pk if len(items) == limit else None,
            }
        )


class SupervisionItemDetailApi(APIView):
    """One item with its message in its conversation (the archived records around it); audited."""

    permission_classes = [IsSupervisor]

    @extend_schema(
        operation_id="supervision_items_get",
        parameters=[
            OpenApiParameter("before", int, description="records before the message, 0-50 (5)"),
            OpenApiParameter("after", int, description="records after the message, 0-50 (5)"),
        ],
        responses={200: ITEM_WITH_CONTEXT},
    )
    def get(self, request, item_id: int):
        item, records = services.item_view(
            actor=request.user,
            item_id=item_id,
            before=_int_param(request, "before", default=5),
            after=_int_param(request, "after", default=5),
        )
        return Response({**_item_answer(item), "context": context_to_dict(item, records)})


class SupervisionItemClaimApi(APIView):
    """Take an open item for review."""

    permission_classes = [IsSupervisor]

    @extend_schema(operation_id="supervision_items_claim", request=None, responses={200: ITEM})
    def post(self, request, item_id: int):
        return Response(_item_answer(services.item_claim(actor=request.user, item_id=item_id)))


class SupervisionItemResolveApi(APIView):
    """Decide an item: compliant, escalated (optionally opening a case with a hold) or a
    violation, with a comment."""

    permission_classes = [IsSupervisor]
    request_schemas = {"POST": RESOLVE}

    @extend_schema(operation_id="supervision_items_resolve", responses={200: ITEM})
    def post(self, request, item_id: int):
        data = request_object(request, fields=set(RESOLVE["properties"]))
        item = services.item_resolve(
            actor=request.user,
            item_id=item_id,
            decision=data.get("decision"),
            comment=data.get("comment", ""),
            open_case=data.get("open_case", False),
            case_name=data.get("case_name", ""),
        )
        return Response(_item_answer(item))


class SupervisionItemReassignApi(APIView):
    """Hand an unresolved item to another reviewer of its policy."""

    permission_classes = [IsSupervisor]
    request_schemas = {"POST": REASSIGN}

    @extend_schema(operation_id="supervision_items_reassign", responses={200: ITEM})
    def post(self, request, item_id: int):
        data = request_object(request, fields={"reviewer"})
        item = services.item_reassign(
            actor=request.user, item_id=item_id, reviewer=data.get("reviewer")
        )
        return Response(_item_answer(item))
