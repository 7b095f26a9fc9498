"""Delivery of messages to external participants: chat's outbox and the outcomes it records.

Chat owns this state; a gateway (federation's XMPP gateway) only calls these services, so
chat imports nothing of federation (STYLE.md: federation calls chat, never the reverse).

message_post calls outbound_delivery_enqueue inside its own transaction, so a delivery row
exists exactly when the message does, and wakes the gateways after commit through
chat.realtime (the database stays the truth: a lost wake-up only waits for the gateway's poll).

What a gateway does, in this order, and why:
1. record: message_delivery_attempt counts an attempt on the pending rows it takes;
2. send: each with its delivery_key as the stanza id (the same on every attempt);
3. mark: message_delivery_mark_sent once its server confirmed the hand-over.
A gateway that dies between 2 and 3 sends the row again when it comes back, with the same id.
That is what "exactly once from Parley's side" honestly means: Parley never loses a message
(it is in the outbox until marked), never sends one again once marked, and every copy of a
message it may have to send again after a crash (attempts > 1) carries the same id, so the
receiving server or client can drop the duplicate. XMPP offers no acknowledgement on a
component stream that would let the sender itself rule out that duplicate.

A failure (an error bounced by the remote side, or no hand-over within
PARLEY_XMPP_UNDELIVERABLE_SECONDS) sets the message's delivery_error and announces it as
message.updated.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from archiving.models import ArchiveEvent
from archiving.services import capture as archive_capture
from chat import realtime
from chat.models import Conversation, Message, OutboundDelivery, Participant
from chat.selectors import participant_person_ids


@dataclass(frozen=True)
class PendingDelivery:
    delivery_id: int
    delivery_key: str
    sender_username: str
    recipient_id: int
    body: str
    attempts: int  # including this one: above 1, the recipient may already have a copy


def outbound_delivery_enqueue(
    *, message: Message, conversation: Conversation
) -> list[OutboundDelivery]:
    """Queue a direct message from a Parley person to its external participant."""
    if conversation.kind != Conversation.Kind.DIRECT or message.sender.is_external:
        # Only direct conversations federate; an external sender's message came from outside.
        return []
    recipients = (
        Participant.objects.filter(
            conversation_id=conversation.pk, left_at__isnull=True, person__is_external=True
        )
        .exclude(person_id=message.sender_id)
        .values_list("person_id", flat=True)
    )
    rows = [
        OutboundDelivery.objects.create(
            message=message, recipient_id=person_id, delivery_key=f"parley-{message.pk}-{person_id}"
        )
        for person_id in recipients
    ]
    if rows:
        transaction.on_commit(realtime.outbound_delivery_wake, robust=True)
    return rows


@transaction.atomic
def message_delivery_attempt(*, limit: int = 200) -> list[PendingDelivery]:
    """Record an attempt on the oldest pending deliveries and return them to send."""
    rows = list(
        OutboundDelivery.objects.select_for_update(of=("self",))
        .filter(sent_at__isnull=True, failed_at__isnull=True)
        .select_related("message__sender")
        .order_by("id")[:limit]
    )
    if not rows:
        return []
    OutboundDelivery.objects.filter(pk__in=[row.pk for row in rows]).update(
        attempts=F("attempts") + 1, attempted_at=timezone.now()
    )
    return [
        PendingDelivery(
            delivery_id=row.pk,
            delivery_key=row.delivery_key,
            sender_username=row.message.sender.username,
            recipient_id=row.recipient_id,
            body=row.message.body,
            attempts=row.attempts + 1,
        )
        for row in rows
    ]


def message_delivery_mark_sent(*, delivery_ids: list[int]) -> int:
    """Record that these deliveries were handed over (each is never sent again)."""
    return OutboundDelivery.objects.filter(
        pk__in=delivery_ids, sent_at__isnull=True, failed_at__isnull=True
    ).update(sent_at=timezone.now())


@transaction.atomic
def message_delivery_fail(*, delivery_key: str, error: str) -> Message | None:
    """Record that a message could not be delivered and show the error on the message."""
    row = (
        OutboundDelivery.objects.select_for_update(of=("self",))
        .select_related("message__sender", "recipient")
        .filter(delivery_key=delivery_key, failed_at__isnull=True)
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
    transaction.on_commit(lambda: realtime.message_updated(message), robust=True)
    return message


def _failure_capture(*, message: Message, recipient, error: str, at: datetime) -> None:
    """Archive the failure in the message's conversation chain (message.delivery_failed): a
    reviewer reads that the message was not delivered, to whom and why."""
    conversation = Conversation.objects.select_for_update().get(pk=message.conversation_id)
    archive_capture(
        conversation_id=conversation.pk,
        conversation_kind=conversation.kind,
        is_external=conversation.is_external,
        participant_ids=participant_person_ids(conversation_id=conversation.pk),
        event=ArchiveEvent.MESSAGE_DELIVERY_FAILED,
        actor=message.sender,
        occurred_at=at,
        message_id=message.pk,
        message_seq=message.seq,
        # An external person's display name is their XMPP address (federation/services/inbound)
        payload={"recipient": recipient.display_name or recipient.username, "error": error},
    )


def message_delivery_expire(*, now: datetime | None = None) -> int:
    """Fail deliveries still not handed over after PARLEY_XMPP_UNDELIVERABLE_SECONDS."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PARLEY_XMPP_UNDELIVERABLE_SECONDS)
    stale = OutboundDelivery.objects.filter(
        sent_at__isnull=True, failed_at__isnull=True, created_at__lt=cutoff
    ).values_list("delivery_key", flat=True)
    failed = 0
    for delivery_key in list(stale):
        failed += (
            message_delivery_fail(
                delivery_key=delivery_key,
                error="Not delivered: the federation gateway could not reach the XMPP server.",
            )
            is not None
        )
    return failed
