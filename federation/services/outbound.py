"""Messages from Parley people to external people: the persistent outbox and its outcomes.

message_post calls outbound_enqueue inside its own transaction, so an outbox row exists
exactly when the message does. The gateway sends unsent rows whenever it is connected (woken
through the channel layer after commit, and by its own poll as a backstop), so messages posted
while the gateway or the XMPP server is down go out when they come back. A failure (an XMPP
error bounced by the remote side, or no delivery within PARLEY_XMPP_UNDELIVERABLE_SECONDS)
sets the message's delivery_error and announces it as message.updated.

This module imports no chat service: chat.services calls it.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from archiving.models import ArchiveEvent
from archiving.services import capture as archive_capture
from chat import realtime as chat_realtime
from chat.models import Conversation, Message, Participant
from federation import realtime
from federation.models import OutboundMessage, XmppAddress


def outbound_enqueue(*, message: Message, conversation: Conversation) -> list[OutboundMessage]:
    """Queue a direct message from a Parley person to its external participant for XMPP."""
    if conversation.kind != Conversation.Kind.DIRECT or message.sender.is_external:
        # Only direct conversations federate; an external sender's message came from XMPP.
        return []
    recipients = (
        Participant.objects.filter(
            conversation_id=conversation.pk,
            left_at__isnull=True,
            person__is_external=True,
            person__xmpp_address__isnull=False,
        )
        .exclude(person_id=message.sender_id)
        .values_list("person_id", flat=True)
    )
    rows = [
        OutboundMessage.objects.create(
            message=message, recipient_id=person_id, stanza_id=f"parley-{message.pk}-{person_id}"
        )
        for person_id in recipients
    ]
    if rows:
        transaction.on_commit(realtime.outbound_wake, robust=True)
    return rows


def outbound_mark_sent(*, outbound_id: int) -> None:
    """Record that the message was handed to the XMPP server."""
    OutboundMessage.objects.filter(pk=outbound_id, sent_at__isnull=True).update(
        sent_at=timezone.now()
    )


@transaction.atomic
def outbound_fail(*, stanza_id: str, error: str) -> Message | None:
    """Record that a message could not be delivered and show the error on the message."""
    row = (
        OutboundMessage.objects.select_for_update()
        .select_related("message__sender", "recipient")
        .filter(stanza_id=stanza_id, failed_at__isnull=True)
        .first()
    )
    if row is None:
        return None
    error = error[:300]
    row.failed_at, row.error = timezone.now(), error
    row.save(update_fields=["failed_at", "error"])
    message = row.message
    message.delivery_error = error
    message.save(update_fields=["delivery_error"])
    _failure_capture(message=message, recipient=row.recipient, error=error, at=row.failed_at)
    transaction.on_commit(lambda: chat_realtime.message_updated(message), robust=True)
    return message


def _address_of(person) -> str:
    address = XmppAddress.objects.filter(person=person).values_list("jid", flat=True).first()
    return address or person.username


def _failure_capture(*, message: Message, recipient, error: str, at) -> None:
    """Archive the failure in the message's conversation chain (message.delivery_failed): a
    reviewer reads that the message was not delivered, to whom and why."""
    conversation = Conversation.objects.select_for_update().get(pk=message.conversation_id)
    archive_capture(
        conversation_id=conversation.pk,
        conversation_kind=conversation.kind,
        is_external=conversation.is_external,
        participant_ids=Participant.objects.filter(
            conversation_id=conversation.pk, left_at__isnull=True
        ).values_list("person_id", flat=True),
        event=ArchiveEvent.MESSAGE_DELIVERY_FAILED,
        actor=message.sender,
        occurred_at=at,
        message_id=message.pk,
        message_seq=message.seq,
        payload={
            "recipient": _address_of(recipient),
            "error": error,
        },
    )


def outbound_expire(*, now=None) -> int:
    """Fail messages that waited longer than PARLEY_XMPP_UNDELIVERABLE_SECONDS unsent."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PARLEY_XMPP_UNDELIVERABLE_SECONDS)
    stale = OutboundMessage.objects.filter(
        sent_at__isnull=True, failed_at__isnull=True, created_at__lt=cutoff
    ).values_list("stanza_id", flat=True)
    failed = 0
    for stanza_id in list(stale):
        failed += (
            outbound_fail(
                stanza_id=stanza_id,
                error="Not delivered: the federation gateway could not reach the XMPP server.",
            )
            is not None
        )
    return failed
