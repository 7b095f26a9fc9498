"""HTTP edge for rooms, their members, invitations and categories (DESIGN.md section 9)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import selectors, services
from chat.apis.conversations import POSITIVE, _int_param
from chat.serializers import (
    StrictCharField,
    category_to_dict,
    invitation_to_dict,
    room_to_dict,
    timestamp,
)
from directory.exceptions import Forbidden, InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.serializers import person_summary
from presence.selectors import presence_for_watcher_many

MEMBERS_PAGE = 200
MAX_ID = 2**63 - 1  # bigint: a larger id would reach the database as an overflow


class RoomCreateInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    topic = StrictCharField(max_length=500, required=False, default="", allow_blank=True)
    description = StrictCharField(max_length=5000, required=False, default="", allow_blank=True)
    category = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=MAX_ID
    )
    privacy = serializers.ChoiceField(["open", "closed", "secret"], default="open")
    kind = serializers.ChoiceField(["normal", "auditorium"], default="normal")


class RoomUpdateInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200, required=False)
    topic = StrictCharField(max_length=500, required=False, allow_blank=True)
    description = StrictCharField(max_length=5000, required=False, allow_blank=True)
    category = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )
    privacy = serializers.ChoiceField(["open", "closed", "secret"], required=False)
    kind = serializers.ChoiceField(["normal", "auditorium"], required=False)


class MemberInputSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    role = serializers.ChoiceField(["member", "presenter", "manager"], default="member")


class RoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(["member", "presenter", "manager"])


class InvitationInputSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)


MAX_OFFSET = 1_000_000
OFFSET = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}


def _offset_param(request) -> int:
    offset = _int_param(request, "offset", default=0)
    if offset > MAX_OFFSET:
        raise InvalidInput(
            _("offset must be at most %(MAX_OFFSET)s; narrow the search instead.")
            % {"MAX_OFFSET": MAX_OFFSET}
        )
    return offset


def _room(request, room_id: int) -> dict:
    return room_to_dict(selectors.room_get_visible(person_id=request.user.pk, room_id=room_id))


class RoomListCreateApi(APIView):
    """The room directory (search by name, topic, category); create a room."""

    @extend_schema(
        parameters=[
            OpenApiParameter("q", {"type": "string", "maxLength": 200}),
            OpenApiParameter("category", str, description="category id or name"),
            OpenApiParameter("limit", POSITIVE),
            OpenApiParameter("offset", OFFSET),
        ],
        responses=OpenApiTypes.OBJECT,
        operation_id="rooms_list",
    )
    def get(self, request):
        query = request.query_params.get("q", "").strip()
        if len(query) > 200:
            raise InvalidInput(_("q is limited to 200 characters."))
        limit = min(_int_param(request, "limit", default=50, minimum=1), 200)
        offset = _offset_param(request)
        rooms, total = selectors.room_list_visible_to(
            person_id=request.user.pk,
            query=query,
            category=request.query_params.get("category", "").strip()[:100],
            limit=limit,
            offset=offset,
        )
        return Response({"results": [room_to_dict(r) for r in rooms], "total": total})

    @extend_schema(request=RoomCreateInputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request):
        data = RoomCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        room = services.room_create(
            creator=request.user,
            title=data.validated_data["name"],
            topic=data.validated_data["topic"],
            description=data.validated_data["description"],
            category_id=data.validated_data["category"],
            privacy=data.validated_data["privacy"],
            room_kind=data.validated_data["kind"],
        )
        return Response(_room(request, room.pk), status=status.HTTP_201_CREATED)


class RoomDetailApi(APIView):
    """One room I may see; managers edit it (PATCH)."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, room_id: int):
        return Response(_room(request, room_id))

    @extend_schema(request=RoomUpdateInputSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, room_id: int):
        data = RoomUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.room_update(actor=request.user, room_id=room_id, changes=data.validated_data)
        return Response(_room(request, room_id))


class RoomJoinApi(APIView):
    """Join an open room."""

    @extend_schema(request=None, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, room_id: int):
        services.room_join(person=request.user, room_id=room_id)
        return Response(_room(request, room_id), status=status.HTTP_201_CREATED)


class RoomLeaveApi(APIView):
    """Leave a room."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, room_id: int):
        services.room_leave(person=request.user, room_id=room_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomMemberListAddApi(APIView):
    """List members with roles and presence (members; anyone who may see an open room);
    add a member with a role (managers)."""

    @extend_schema(
        parameters=[OpenApiParameter("limit", POSITIVE), OpenApiParameter("offset", OFFSET)],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, room_id: int):
        room = selectors.room_get_visible(person_id=request.user.pk, room_id=room_id)
        if not room.is_member and room.privacy != "open":
            raise Forbidden(_("Only the room's members see who is in it."), code="not_member")
        limit = min(_int_param(request, "limit", default=MEMBERS_PAGE, minimum=1), MEMBERS_PAGE)
        offset = _offset_param(request)
        members = selectors.room_members_list(room_id=room.pk, limit=limit, offset=offset)
        presence = presence_for_watcher_many(
            people=[m.person for m in members], watcher=request.user
        )
        results = [
            {
                **person_summary(m.person),
                "role": m.role,
                "joined_at": timestamp(m.joined_at),
                "presence": view,
            }
            for m, (_, view) in zip(members, presence, strict=True)
        ]
        return Response({"results": results, "total": room.member_count or 0})

    @extend_schema(request=MemberInputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, room_id: int):
        data = MemberInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        participant, created = services.room_member_add(
            actor=request.user,
            room_id=room_id,
            username=data.validated_data["username"],
            role=data.validated_data["role"],
        )
        return Response(
            {**person_summary(participant.person), "role": participant.role},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RoomMemberDetailApi(APIView):
    """Change a member's role (PATCH) or remove them (DELETE; yourself = leave)."""

    @extend_schema(request=RoleInputSerializer, responses=OpenApiTypes.OBJECT)
    def patch(self, request, room_id: int, username: str):
        data = RoleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        participant = services.room_member_role_change(
            actor=request.user, room_id=room_id, username=username, role=data.validated_data["role"]
        )
        return Response({**person_summary(participant.person), "role": participant.role})

    @extend_schema(responses={204: None})
    def delete(self, request, room_id: int, username: str):
        services.room_member_remove(actor=request.user, room_id=room_id, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RoomInvitationCreateApi(APIView):
    """Invite someone to a room (managers; when the category allows invitations)."""

    @extend_schema(request=InvitationInputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, room_id: int):
        data = InvitationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            actor=request.user, room_id=room_id, username=data.validated_data["username"]
        )
        return Response(invitation_to_dict(invitation), status=status.HTTP_201_CREATED)


class InvitationListApi(APIView):
    """My pending room invitations."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        invitations = selectors.invitation_list_for_person(person_id=request.user.pk)
        return Response({"results": [invitation_to_dict(i) for i in invitations]})


class InvitationAcceptApi(APIView):
    """Accept an invitation: join the room."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, invitation_id: int):
        invitation = services.invitation_answer(
            person=request.user, invitation_id=invitation_id, is_accepted=True
        )
        return Response(_room(request, invitation.conversation_id))


class InvitationDeclineApi(APIView):
    """Decline an invitation."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request, invitation_id: int):
        services.invitation_answer(
            person=request.user, invitation_id=invitation_id, is_accepted=False
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class CategoryListApi(APIView):
    """The categories I am not walled out of, with their switches and whether I may create."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request):
        categories = selectors.category_list_open_to(person_id=request.user.pk)
        return Response({"results": [category_to_dict(c) for c in categories]})
