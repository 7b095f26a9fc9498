"""Frames about conversations and messages, serialised once and handed to the fan-out hub;
and the wake-up that tells gateways (federation) that deliveries wait in chat's outbox."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer  # noqa: TID251

from chat.models import Conversation, Message
from chat.selectors import active_participants, conversation_members
from chat.serializers import conversation_to_dict, invitation_to_dict, message_to_dict
from directory import realtime as fanout
from directory.models import Person
from directory.serializers import person_summary

logger = logging.getLogger(__name__)

# Gateways listen on this group; chat names no gateway (federation calls chat, not the reverse).
OUTBOUND_DELIVERY_GROUP = "chat.outbound-delivery"

# The one serialiser of server frames (shared with presence and the fan-out hub).
frame = fanout.frame_text


def _message_send(message: Message, frame_type: str) -> None:
    """Send a message frame to its conversation, serialised once; a reply whose original some
    members cannot read (they joined after it) goes to them without the quote."""
    hidden: list[int] = []
    if message.reply_to_id is not None:
        hidden = list(
            active_participants(message.conversation_id)
            .filter(visible_after_seq__gte=message.reply_to.seq)
            .values_list("person_id", flat=True)
        )
    fanout.conversation_frame_send(
        conversation_id=message.conversation_id,
        frame=frame({"type": frame_type, "message": message_to_dict(message)}),
        exclude_people=hidden,
    )
    if hidden:
        quoteless = frame(
            {
                "type": frame_type,
                "message": message_to_dict(message, visible_after_seq=message.reply_to.seq),
            }
        )
        for person_id in hidden:
            fanout.person_frame_send(person_id=person_id, frame=quoteless)


def message_new(message: Message) -> None:
    """Announce a stored message to everyone in its conversation."""
    _message_send(message, "message.new")


def outbound_delivery_wake() -> None:
    """Tell gateways that deliveries wait in the outbox (after commit; failures logged).

    The outbox in the database is the truth: the wake-up only saves a gateway its poll delay,
    so a lost one (the layer is at-most-once, or no gateway listens) loses nothing.
    """
    try:
        async_to_sync(get_channel_layer().group_send)(
            OUTBOUND_DELIVERY_GROUP, {"type": "outbound.wake"}
        )
    except Exception:
        logger.exception("chat: outbound wake-up not sent (the gateway's poll will send)")


def message_updated(message: Message) -> None:
    """Announce an edit, a deletion or a change of its reactions."""
    _message_send(message, "message.updated")


def _conversation_frame(conversation: Conversation, **extra) -> str:
    members, member_count = conversation_members(conversation=conversation)
    payload = conversation_to_dict(conversation, members=members, member_count=member_count)
    return frame({"type": "conversation.updated", "conversation": payload, **extra})


def conversation_joined(
    *, conversation_id: int, person_ids: list[int], is_new_conversation: bool
) -> None:
    """Attach the newcomers' sockets to the conversation and tell everyone in it."""
    conversation = Conversation.objects.get(pk=conversation_id)
    text = _conversation_frame(conversation)
    for person_id in person_ids:
        fanout.person_frame_send(
            person_id=person_id,
            frame=text,
            control={"action": "join", "conversation": conversation_id},
        )
    if not is_new_conversation:
        # The members already there learn of the newcomer (who was told above).
        fanout.conversation_frame_send(
            conversation_id=conversation_id,
            frame=text,
            exclude_person=person_ids[0] if len(person_ids) == 1 else None,
        )


def conversation_left(
    *, conversation_id: int, person_id: int, reason: str = "left", actor_id: int | None = None
) -> None:
    """Detach the leaver's sockets and tell the rest of the conversation.

    reason: "left" (they left), "removed_by_manager" or "ethical_wall". The leaver's frame says
    why and by whom, so their page can say so (and keep their draft); the others' says who.
    """
    conversation = Conversation.objects.get(pk=conversation_id)
    people = {p.pk: p for p in Person.objects.filter(pk__in={person_id, actor_id} - {None})}
    leaver = people.get(person_id)
    actor = people.get(actor_id) if actor_id is not None and actor_id != person_id else None
    fanout.person_frame_send(
        person_id=person_id,
        frame=frame(
            {
                "type": "conversation.left",
                "conversation": conversation_id,
                "title": conversation.title,
                "reason": reason,
                "by": person_summary(actor) if actor else None,
            }
        ),
        control={"action": "leave", "conversation": conversation_id},
    )
    fanout.conversation_frame_send(
        conversation_id=conversation_id,
        frame=_conversation_frame(
            conversation,
            left={"user": person_summary(leaver) if leaver else None, "reason": reason},
        ),
    )


def conversation_read(
    *, person_id: int, conversation_id: int, last_read_seq: int, unread: int
) -> None:
    """Tell all of a person's sockets that they have read up to a seq."""
    fanout.person_frame_send(
        person_id=person_id,
        frame=frame(
            {
                "type": "conversation.read",
                "conversation": conversation_id,
                "last_read_seq": last_read_seq,
                "unread": unread,
            }
        ),
    )


async def typing_send(*, person: Person, conversation_id: int) -> None:
    """Tell the others in a conversation that the person is typing."""
    await fanout.apublish(
        kind=fanout.CONVERSATION,
        object_id=conversation_id,
        frame=frame(
            {"type": "typing", "conversation": conversation_id, "user": person_summary(person)}
        ),
        exclude_person=person.pk,
    )


def conversation_notice(*, conversation_id: int, notice: str) -> None:
    """Tell everyone in a conversation that it was closed or reopened for posting, and why."""
    conversation = Conversation.objects.get(pk=conversation_id)
    fanout.conversation_frame_send(
        conversation_id=conversation_id, frame=_conversation_frame(conversation, notice=notice)
    )


def room_updated(*, room_id: int) -> None:
    """Tell a room's members that its name, topic, settings or roles changed."""
    conversation = Conversation.objects.get(pk=room_id)
    fanout.conversation_frame_send(conversation_id=room_id, frame=_conversation_frame(conversation))


def invitation_new(*, invitation) -> None:
    """Tell the invitee's sockets about a room invitation."""
    fanout.person_frame_send(
        person_id=invitation.invitee_id,
        frame=frame({"type": "room.invited", "invitation": invitation_to_dict(invitation)}),
    )


def feed_match(*, message: Message, notices: list[tuple[int, int, str, int]]) -> None:
    """Tell each feed owner's sockets that a new message matched their feed."""
    # The owners' history floors are not at hand here: a quoted reply shows no text.
    body = message_to_dict(message, visible_after_seq=message.seq)
    for owner_id, feed_id, name, unread in notices:
        fanout.person_frame_send(
            person_id=owner_id,
            frame=frame(
                {
                    "type": "feed.match",
                    "feed": {"id": feed_id, "name": name, "unread": unread},
                    "message": body,
                }
            ),
        )
