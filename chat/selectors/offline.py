"""Lync's offline IM switch, as one SQL expression the write path folds into a query it makes.

A post to a direct or group conversation is refused as "not delivered" when nobody it is for
can receive it: every other participant is a Parley person with no live connection (for this
sender) whose IM policy (their override, else the global policy) turns offline delivery off.
External participants count as reachable (the federation gateway delivers, and reports its
own failures), as does anyone whose policy keeps offline messages. In a group where one
person is online the message goes through: the group's history is what everyone comes back to.

"Live for this sender" is what the sender may see: a person who appears offline, or who
blocked the sender, is offline to them (delivering would tell them otherwise, DESIGN.md
section 4), so with offline delivery off such a person receives nothing from them.

The expression costs no query of its own: message_post adds it to the statement that locks
the conversation, message_post_batch to the statement that locks the batch's conversations.
Rooms never pay for it (the CASE skips them): persistent chat keeps its history for everyone.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    Expression,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from chat.models import Conversation, ImPolicy, ImPolicyAssignment, Participant
from directory.models import Person
from presence.models import APPEAR_OFFLINE, Contact, Endpoint, PresenceState, Relationship

OFFLINE_KINDS = (Conversation.Kind.DIRECT, Conversation.Kind.GROUP)


def delivers_offline(person_ref) -> Expression:
    """Return an expression: the person's IM policy keeps messages while they are offline."""
    return Coalesce(
        Subquery(
            ImPolicyAssignment.objects.filter(person_id=person_ref).values(
                "policy__delivers_offline"
            )[:1]
        ),
        Subquery(ImPolicy.objects.filter(is_global=True).values("delivers_offline")[:1]),
        Value(True),
        output_field=BooleanField(),
    )


def online_to(*, person_ref, sender_ref) -> Q:
    """Return a condition: the person has a live connection the sender may know about."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.PARLEY_ENDPOINT_EXPIRY_SECONDS)
    appears_offline = PresenceState.objects.filter(
        Q(manual_expires_at__isnull=True) | Q(manual_expires_at__gt=now),
        person_id=person_ref,
        manual_availability=APPEAR_OFFLINE,
    )
    blocks_sender = Contact.objects.filter(
        owner_id=person_ref, person_id=sender_ref, relationship=Relationship.BLOCKED
    )
    return (
        Q(Exists(Endpoint.objects.filter(person_id=person_ref, last_seen_at__gte=cutoff)))
        & ~Q(Exists(appears_offline))
        & ~Q(Exists(blocks_sender))
    )


def _others(*, conversation_ref, sender_ref) -> QuerySet[Participant]:
    return Participant.objects.filter(
        left_at__isnull=True, conversation_id=conversation_ref
    ).exclude(person_id=sender_ref)


def offline_refusal(*, conversation_ref, sender_ref, kind_field: str) -> Case:
    """Return a boolean expression: a post by the sender to the conversation is refused as
    not delivered (every recipient offline with offline delivery off)."""
    others = _others(conversation_ref=conversation_ref, sender_ref=sender_ref)
    person = OuterRef("person_id")
    reachable = others.annotate(delivers=delivers_offline(person)).filter(
        Q(person__is_external=True)
        | Q(delivers=True)
        # One subquery deeper: an outer reference to the sender must reach one level further.
        | online_to(
            person_ref=person,
            sender_ref=OuterRef(sender_ref) if isinstance(sender_ref, OuterRef) else sender_ref,
        )
    )
    return Case(
        When(
            Q(**{f"{kind_field}__in": OFFLINE_KINDS}) & Q(Exists(others)) & ~Q(Exists(reachable)),
            then=Value(True),
        ),
        default=Value(False),
        output_field=BooleanField(),
    )


def offline_recipients(*, conversation_id: int, sender: Person) -> list[Person]:
    """Return the people a refused post was for (read only when a post is refused)."""
    ids = _others(conversation_ref=conversation_id, sender_ref=sender.pk).values("person_id")
    return list(Person.objects.filter(pk__in=ids).order_by("username"))
