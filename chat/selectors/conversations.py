"""Reads of conversations and messages, always from one person's point of view."""

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery

from chat.models import Conversation, Message, Participant
from chat.selectors.walls import category_walled_ids
from directory.exceptions import NotFound
from directory.exceptions import sentence_gettext as _

ACTIVE = Q(left_at__isnull=True)


def unwalled(person_id: int, prefix: str = "conversation__") -> Q:
    """Return a condition: the conversation is in no category that walls the person out."""
    return ~Q(**{f"{prefix}category_id__in": category_walled_ids(person_id=person_id)})


def participation_active(*, person_id: int, conversation_id: int) -> QuerySet[Participant]:
    """Return the person's active participation as a queryset, walls applied."""
    return Participant.objects.filter(
        ACTIVE, unwalled(person_id), person_id=person_id, conversation_id=conversation_id
    )


def conversation_ids_for_person(*, person_id: int) -> list[int]:
    """Return the ids of the conversations the person takes part in now."""
    return list(
        Participant.objects.filter(ACTIVE, unwalled(person_id), person_id=person_id).values_list(
            "conversation_id", flat=True
        )
    )


def participation_get(*, person_id: int, conversation_id: int) -> Participant:
    """Return the person's active participation, or NotFound (non-members learn nothing)."""
    participant = (
        participation_active(person_id=person_id, conversation_id=conversation_id)
        .select_related("conversation")
        .first()
    )
    if participant is None:
        raise NotFound(
            _("Conversation %(conversation_id)s does not exist or you are not in it.")
            % {"conversation_id": conversation_id},
            code="conversation_not_found",
        )
    return participant


def active_participants(conversation_id: int) -> QuerySet[Participant]:
    return Participant.objects.filter(ACTIVE, conversation_id=conversation_id)


def participant_person_ids(*, conversation_id: int) -> QuerySet:
    """Return a lazy subquery of the person ids in a conversation now."""
    return active_participants(conversation_id).values("person_id")


def conversation_list_for_person(*, person_id: int) -> list[Participant]:
    """Return the person's participations, newest activity first.

    Each conversation carries `active_members` (the people of direct and group conversations;
    empty for rooms, whose member lists can run to thousands) and each participation a
    `member_count`.
    """
    members = Prefetch(
        "conversation__participants",
        queryset=Participant.objects.filter(ACTIVE)
        .exclude(conversation__kind=Conversation.Kind.ROOM)
        .select_related("person")
        .order_by("id"),
        to_attr="active_members",
    )
    member_count = (
        Participant.objects.filter(ACTIVE, conversation_id=OuterRef("conversation_id"))
        .values("conversation_id")
        .annotate(total=Count("id"))
        .values("total")
    )
    return list(
        Participant.objects.filter(ACTIVE, unwalled(person_id), person_id=person_id)
        .select_related("conversation")
        .prefetch_related(members)
        .annotate(member_count=Subquery(member_count))
        .order_by(F("conversation__last_message_at").desc(nulls_last=True), "-conversation_id")
    )


def conversation_members(*, conversation: Conversation) -> tuple[list[Participant], int]:
    """Return the members to list with a conversation (none for rooms) and how many there are."""
    if conversation.kind == Conversation.Kind.ROOM:
        return [], active_participants(conversation.pk).count()
    members = list(active_participants(conversation.pk).select_related("person").order_by("id"))
    return members, len(members)


def message_list_after(*, participant: Participant, after_seq: int, limit: int) -> list[Message]:
    """Return the visible messages after after_seq, oldest first."""
    floor = max(after_seq, participant.visible_after_seq)
    return list(
        Message.objects.filter(conversation_id=participant.conversation_id, seq__gt=floor)
        .select_related("sender", "file", "reply_to__sender")
        .order_by("seq")[:limit]
    )


def message_list_before(*, participant: Participant, before_seq: int, limit: int) -> list[Message]:
    """Return up to limit visible messages before before_seq, oldest first (history paging)."""
    messages = list(
        Message.objects.filter(
            conversation_id=participant.conversation_id,
            seq__lt=before_seq,
            seq__gt=participant.visible_after_seq,
        )
        .select_related("sender", "file", "reply_to__sender")
        .order_by("-seq")[:limit]
    )
    messages.reverse()
    return messages


def message_get_visible(*, person_id: int, message_id: int) -> tuple[Message, Participant]:
    """Return a message the person may read with their participation, or NotFound."""
    message = (
        Message.objects.select_related("sender", "file", "reply_to__sender")
        .filter(pk=message_id)
        .first()
    )
    if message is not None:
        participant = (
            participation_active(person_id=person_id, conversation_id=message.conversation_id)
            .select_related("conversation")
            .first()
        )
        if participant is not None and message.seq > participant.visible_after_seq:
            return message, participant
    raise NotFound(
        _("Message %(message_id)s does not exist or is not yours to see.")
        % {"message_id": message_id},
        code="message_not_found",
    )


def messages_by_ids(ids: list[int]) -> list[Message]:
    """Return messages in the order of ids."""
    found = Message.objects.select_related(
        "sender", "conversation", "file", "reply_to__sender"
    ).in_bulk(ids)
    return [found[i] for i in ids if i in found]


def visible_after_seqs(*, person_id: int) -> dict[int, int]:
    """Return where the person's readable history starts, by conversation id."""
    return dict(
        Participant.objects.filter(ACTIVE, person_id=person_id).values_list(
            "conversation_id", "visible_after_seq"
        )
    )
