"""HTTP edge for conversations, messages and history search."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from archiving.search.types import highlight
from chat import selectors, services
from chat.models import Participant
from chat.serializers import (
    ConversationCreateInputSerializer,
    MessageCreateInputSerializer,
    MessageEditInputSerializer,
    MessageSerializer,
    ParticipantAddInputSerializer,
    ReactionInputSerializer,
    ReadInputSerializer,
    conversation_to_dict,
    message_to_dict,
)
from chat.services import im_policies, notices
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _

MAX_PAGE = 200
# Query parameter schemas: the bounds _int_param enforces (ids and seqs are 64-bit).
POSITIVE = {"type": "integer", "minimum": 1}
NON_NEGATIVE = {"type": "integer", "minimum": 0}


def _int_param(request, name: str, *, default: int | None, minimum: int = 0) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
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


def _conversation_payload(conversation_id: int, person_id: int) -> dict:
    participation = selectors.participation_get(
        person_id=person_id, conversation_id=conversation_id
    )
    members, member_count = selectors.conversation_members(conversation=participation.conversation)
    return conversation_to_dict(
        participation.conversation,
        members=members,
        member_count=member_count,
        participation=participation,
    )


class ConversationListCreateApi(APIView):
    """List my conversations; start a direct conversation (1 other) or a group (2+ others)."""

    @extend_schema(operation_id="conversations_list", responses=OpenApiTypes.OBJECT)
    def get(self, request):
        participations: list[Participant] = selectors.conversation_list_for_person(
            person_id=request.user.pk
        )
        results = [
            conversation_to_dict(
                p.conversation,
                members=p.conversation.active_members,
                member_count=p.member_count,
                participation=p,
            )
            for p in participations
        ]
        return Response({"results": results})

    @extend_schema(request=ConversationCreateInputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request):
        data = ConversationCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation, created = services.conversation_create(
            creator=request.user,
            usernames=data.validated_data["participants"],
            title=data.validated_data["title"],
        )
        return Response(
            _conversation_payload(conversation.pk, request.user.pk),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ConversationDetailApi(APIView):
    """One conversation I am in."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, conversation_id: int):
        return Response(_conversation_payload(conversation_id, request.user.pk))


class ParticipantAddApi(APIView):
    """Add a person; on a direct conversation this starts a NEW group of three (201)."""

    @extend_schema(request=ParticipantAddInputSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, conversation_id: int):
        data = ParticipantAddInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation, _added = services.participant_add(
            actor=request.user,
            conversation_id=conversation_id,
            username=data.validated_data["username"],
        )
        return Response(
            _conversation_payload(conversation.pk, request.user.pk),
            status=status.HTTP_201_CREATED,
        )


class ParticipantLeaveApi(APIView):
    """Leave a group or room: DELETE with your own username."""

    @extend_schema(responses={204: None})
    def delete(self, request, conversation_id: int, username: str):
        if username != request.user.username:
            raise InvalidInput(
                _(
                    "You can only remove yourself here; room managers manage members "
                    "through the rooms API."
                ),
                code="not_self",
            )
        services.participant_leave(person=request.user, conversation_id=conversation_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessageListCreateApi(APIView):
    """Read messages after a seq (or before one, for history), or post one."""

    @extend_schema(
        parameters=[
            OpenApiParameter("after_seq", NON_NEGATIVE),
            OpenApiParameter("before_seq", POSITIVE),
            OpenApiParameter("limit", POSITIVE),
        ],
        responses=inline_serializer(
            "MessagePage",
            {
                "results": MessageSerializer(many=True),
                "has_more": serializers.BooleanField(),
                "last_seq": serializers.IntegerField(),
            },
        ),
    )
    def get(self, request, conversation_id: int):
        participation = selectors.participation_get(
            person_id=request.user.pk, conversation_id=conversation_id
        )
        limit = min(_int_param(request, "limit", default=50, minimum=1), MAX_PAGE)
        before_seq = _int_param(request, "before_seq", default=None, minimum=1)
        if before_seq is not None:
            if "after_seq" in request.query_params:
                raise InvalidInput(_("Give after_seq or before_seq, not both."))
            messages = selectors.message_list_before(
                participant=participation, before_seq=before_seq, limit=limit
            )
            has_more = bool(messages) and messages[0].seq > participation.visible_after_seq + 1
        else:
            after_seq = _int_param(request, "after_seq", default=0)
            messages = selectors.message_list_after(
                participant=participation, after_seq=after_seq, limit=limit + 1
            )
            has_more = len(messages) > limit
            messages = messages[:limit]
        services.history_view_record(
            reader=request.user,
            participation=participation,
            messages=messages,
            is_backward=before_seq is not None,
        )
        return Response(
            {
                "results": [
                    message_to_dict(m, visible_after_seq=participation.visible_after_seq)
                    for m in messages
                ],
                "has_more": has_more,
                "last_seq": participation.conversation.last_seq,
            }
        )

    @extend_schema(
        request=MessageCreateInputSerializer,
        # 200: a retry with the same client_id answers the message stored the first time.
        responses={201: MessageSerializer, 200: MessageSerializer},
    )
    def post(self, request, conversation_id: int):
        data = MessageCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = services.message_post(
            sender=request.user,
            conversation_id=conversation_id,
            body=data.validated_data["body"],
            client_id=data.validated_data.get("client_id") or None,
            reply_to=data.validated_data.get("reply_to"),
        )
        return Response(
            message_to_dict(message),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ConversationReadApi(APIView):
    """Mark the conversation read up to a seq."""

    @extend_schema(request=ReadInputSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, conversation_id: int):
        data = ReadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.conversation_mark_read(
            person=request.user, conversation_id=conversation_id, seq=data.validated_data["seq"]
        )
        return Response(_conversation_payload(conversation_id, request.user.pk))


class MessageDetailApi(APIView):
    """Edit (PATCH) or delete (DELETE) a message."""

    @extend_schema(request=MessageEditInputSerializer, responses=MessageSerializer)
    def patch(self, request, message_id: int):
        data = MessageEditInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_edit(
            editor=request.user, message_id=message_id, body=data.validated_data["body"]
        )
        return Response(message_to_dict(message))

    @extend_schema(responses=MessageSerializer)
    def get(self, request, message_id: int):
        message, participation = selectors.message_get_visible(
            person_id=request.user.pk, message_id=message_id
        )
        return Response(message_to_dict(message, visible_after_seq=participation.visible_after_seq))

    @extend_schema(responses=MessageSerializer)
    def delete(self, request, message_id: int):
        message = services.message_delete(actor=request.user, message_id=message_id)
        return Response(message_to_dict(message))


class MessageReactionAddApi(APIView):
    """React to a message with an emoji (201), or find the reaction already there (200)."""

    @extend_schema(
        request=ReactionInputSerializer, responses={201: MessageSerializer, 200: MessageSerializer}
    )
    def post(self, request, message_id: int):
        data = ReactionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, created = services.reaction_add(
            person=request.user, message_id=message_id, emoji=data.validated_data["emoji"]
        )
        return Response(
            _message_for(request.user, message),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MessageReactionRemoveApi(APIView):
    """Take back my reaction (204, also when it was not there)."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "emoji",
                str,
                OpenApiParameter.PATH,
                description="The emoji, percent-encoded in the path (%F0%9F%91%8D for a thumbs "
                "up).",
            )
        ],
        responses={204: None},
    )
    def delete(self, request, message_id: int, emoji: str):
        services.reaction_remove(person=request.user, message_id=message_id, emoji=emoji)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _message_for(person, message) -> dict:
    participation = selectors.participation_get(
        person_id=person.pk, conversation_id=message.conversation_id
    )
    return message_to_dict(message, visible_after_seq=participation.visible_after_seq)


class SearchApi(APIView):
    """Search my own conversations and rooms."""

    @extend_schema(
        parameters=[
            # At least one word character: text without a word to look for is refused.
            OpenApiParameter("q", {"type": "string", "pattern": r"\w"}, required=True),
            OpenApiParameter("limit", POSITIVE),
            OpenApiParameter("before", POSITIVE, description="next_before of the previous page"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        query = selectors.history_query_parse(request.query_params.get("q", ""))
        limit = min(_int_param(request, "limit", default=20, minimum=1), 100)
        before = _int_param(request, "before", default=None, minimum=1)
        messages, next_before = selectors.history_search(
            person_id=request.user.pk, query=query, limit=limit, before_id=before
        )
        floors = selectors.visible_after_seqs(person_id=request.user.pk) if messages else {}
        results = [
            {
                **message_to_dict(m, visible_after_seq=floors.get(m.conversation_id, m.seq)),
                "conversation_title": m.conversation.title,
                "conversation_kind": m.conversation.kind,
                "highlight": highlight(body=m.body, node=query),
            }
            for m in messages
        ]
        return Response({"results": results, "next_before": next_before})


class NoticePreferenceInputSerializer(serializers.Serializer):
    missed_im_email = serializers.BooleanField()


class NoticePreferenceApi(APIView):
    """My missed-IM e-mail setting: one digest when I leave messages unread while offline."""

    @extend_schema(operation_id="me_notices_get", responses=NoticePreferenceInputSerializer)
    def get(self, request):
        return Response({"missed_im_email": notices.missed_im_email_wanted(person=request.user)})

    @extend_schema(
        operation_id="me_notices_set",
        request=NoticePreferenceInputSerializer,
        responses=NoticePreferenceInputSerializer,
    )
    def put(self, request):
        data = NoticePreferenceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preference = im_policies.notice_preference_set(
            person=request.user, is_missed_im_email_on=data.validated_data["missed_im_email"]
        )
        return Response({"missed_im_email": preference.is_missed_im_email_on})
