"""JSON shapes of conversations and messages (plain functions on the hot paths)."""

from rest_framework import serializers

from chat.models import Conversation, Message, Participant
from directory.serializers import person_summary, timestamp

EXCERPT_CHARS = 120


def message_excerpt(body: str) -> str:
    """Return the first words of a text on one line, cut with an ellipsis when longer."""
    line = " ".join(body.split())
    return line if len(line) <= EXCERPT_CHARS else line[: EXCERPT_CHARS - 1].rstrip() + "\u2026"


def reply_to_dict(message: Message, *, visible_after_seq: int = 0) -> dict | None:
    """Return what a message shows of the message it answers, or None.

    A reader who joined after the original (seq at or below their visible_after_seq) gets its
    id and seq only, and a deleted original shows no text: neither leaks through a quote.
    """
    if message.reply_to_id is None:
        return None
    original = message.reply_to
    is_visible = original.seq > visible_after_seq
    is_deleted = original.deleted_at is not None
    return {
        "id": original.pk,
        "seq": original.seq,
        "sender": person_summary(original.sender) if is_visible else None,
        "excerpt": message_excerpt(original.body) if is_visible and not is_deleted else None,
        "deleted": is_deleted,
    }


def message_to_dict(message: Message, *, visible_after_seq: int = 0) -> dict:
    """Return the public form of a message (contract: DESIGN.md section 9) as a reader whose
    history starts after visible_after_seq sees it (that only changes a quoted reply)."""
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "seq": message.seq,
        "sender": person_summary(message.sender),
        "body": message.body,
        "created_at": timestamp(message.created_at),
        "edited_at": timestamp(message.edited_at),
        "deleted": message.deleted_at is not None,
        "client_id": message.client_id,
        "delivery_error": message.delivery_error or None,
        # The visible notice of a removal by a room manager (None otherwise).
        "removed_by": message.removed_by or None,
        "file": file_to_dict(message.file) if message.file_id is not None else None,
        "reply_to": reply_to_dict(message, visible_after_seq=visible_after_seq),
        "reactions": message.reactions,
    }


def file_to_dict(file) -> dict:
    """Return the public form of a posted file."""
    return {
        "id": file.pk,
        "name": file.name,
        "content_type": file.content_type,
        "size": file.size,
        "sha256": file.sha256,
        "download_url": f"/api/v1/files/{file.pk}/download/",
    }


def conversation_to_dict(
    conversation: Conversation,
    *,
    members: list[Participant],
    member_count: int,
    participation: Participant | None = None,
) -> dict:
    """Return the public form of a conversation, with the viewer's read state if given.

    Rooms list no participants here (a room can have thousands); participant_count is there.
    """
    data = {
        "id": conversation.pk,
        "kind": conversation.kind,
        "title": conversation.title,
        "topic": conversation.topic,
        "is_external": conversation.is_external,
        "participants": [person_summary(m.person) for m in members],
        "participant_count": member_count,
        "last_seq": conversation.last_seq,
        "last_message_at": timestamp(conversation.last_message_at),
        "created_at": timestamp(conversation.created_at),
        # Set (with the reason) while an information barrier closes it for posting.
        "posting_closed": conversation.posting_closed_reason or None,
    }
    if conversation.kind == Conversation.Kind.ROOM:
        data["privacy"] = conversation.privacy
        data["room_kind"] = conversation.room_kind
        data["category"] = conversation.category_id
    if participation is not None:
        data["role"] = participation.role
        data["last_read_seq"] = participation.last_read_seq
        data["unread"] = max(
            0,
            conversation.last_seq
            - max(participation.last_read_seq, participation.visible_after_seq),
        )
    return data


def room_to_dict(room: Conversation) -> dict:
    """Return the public form of a room from room_queryset_visible_to (annotated)."""
    return {
        "id": room.pk,
        "name": room.title,
        "topic": room.topic,
        "description": room.description,
        "category": (
            {"id": room.category_id, "name": room.category.name} if room.category_id else None
        ),
        "privacy": room.privacy,
        "kind": room.room_kind,
        "member_count": room.member_count or 0,
        "is_member": room.is_member,
        "role": room.my_role,
        "last_seq": room.last_seq,
        "last_message_at": timestamp(room.last_message_at),
        "created_at": timestamp(room.created_at),
    }


def category_to_dict(category) -> dict:
    """Return the public form of a category from category_list_open_to (annotated)."""
    return {
        "id": category.pk,
        "name": category.name,
        "description": category.description,
        "allows_invitations": category.allows_invitations,
        "allows_files": category.allows_files,
        "keeps_history": category.keeps_history,
        "can_create": not category.is_creator_restricted or category.is_named_creator,
    }


def invitation_to_dict(invitation) -> dict:
    room = invitation.conversation
    return {
        "id": invitation.pk,
        "room": {"id": room.pk, "name": room.title, "topic": room.topic},
        "invited_by": person_summary(invitation.invited_by),
        "status": invitation.status,
        "created_at": timestamp(invitation.created_at),
    }


class StrictCharField(serializers.CharField):
    """A text field that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ConversationCreateInputSerializer(serializers.Serializer):
    participants = serializers.ListField(
        child=serializers.CharField(max_length=150), min_length=1, max_length=500
    )
    title = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class ParticipantAddInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class MessageCreateInputSerializer(serializers.Serializer):
    body = StrictCharField(trim_whitespace=False, allow_blank=True)
    client_id = StrictCharField(max_length=64, required=False, allow_blank=True)
    reply_to = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="The id of the message this one answers, in the same conversation.",
    )


class ReactionInputSerializer(serializers.Serializer):
    emoji = StrictCharField(
        max_length=64, help_text="One emoji (a single grapheme, e.g. a thumbs up)."
    )


class ReplyToSerializer(serializers.Serializer):
    """Schema-only: the message a reply answers."""

    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    sender = serializers.DictField(
        allow_null=True, help_text="null when the reader joined after the original."
    )
    excerpt = serializers.CharField(
        allow_null=True,
        help_text="The original's first words; null when it was deleted or the reader joined "
        "after it.",
    )
    deleted = serializers.BooleanField()


class ReactionSummarySerializer(serializers.Serializer):
    """Schema-only: one emoji's reactions to a message."""

    emoji = serializers.CharField()
    count = serializers.IntegerField()
    people = serializers.ListField(child=serializers.CharField(), help_text="Usernames.")


class MessageEditInputSerializer(serializers.Serializer):
    body = StrictCharField(trim_whitespace=False, allow_blank=True)


class ReadInputSerializer(serializers.Serializer):
    seq = serializers.IntegerField(min_value=0)


class MessageSerializer(serializers.Serializer):
    """Schema-only description of message_to_dict for the OpenAPI document."""

    id = serializers.IntegerField()
    conversation = serializers.IntegerField()
    seq = serializers.IntegerField()
    sender = serializers.DictField()
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    client_id = serializers.CharField()
    delivery_error = serializers.CharField(
        allow_null=True,
        help_text="Why a message to an external (federated) person was not delivered, or null.",
    )
    removed_by = serializers.CharField(allow_null=True)
    file = serializers.DictField(allow_null=True)
    reply_to = ReplyToSerializer(allow_null=True)
    reactions = ReactionSummarySerializer(many=True)
