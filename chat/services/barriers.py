"""Information barriers: IM between two sides of a wall (e.g. research and trading).

Design. A room category's wall can also forbid 1:1 and/or group IM (Category.forbids_direct_im,
forbids_group_im) between the people its allowed lists name and the people its denied lists
name (denied wins for someone on both). The rule is checked where conversations gain people:
when a direct or group conversation is created (including the escalation of a 1:1 to a group)
and when someone is added to a group. When a directory sync (or a wall change) moves someone
across a wall, barriers_enforce closes each of their direct and group conversations the wall
now divides: it stays readable, posting is refused, an archived `conversation.closed` event
records why, and everyone in it gets a `conversation.updated` frame with the notice. A
conversation no longer divided (the person moved back) is reopened the same way.

Posting pays nothing for this: message_post already holds the conversation row, and
posting_check reads its posting_closed_at (no query), so the barrier is evaluated when
membership changes, never per message.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from archiving import services as archiving
from archiving.models import ArchiveEvent
from chat import realtime
from chat.models import Category, Conversation, Participant
from chat.selectors import participant_person_ids
from chat.selectors.walls import category_named_person_ids
from directory.exceptions import Forbidden
from directory.models import Person

IM_KINDS = (Conversation.Kind.DIRECT, Conversation.Kind.GROUP)


def barrier_dividing(*, person_ids: list[int], kind: str) -> tuple[Category, int, int] | None:
    """Return the first wall that forbids this kind of IM between two of these people, with
    one person of each side, or None."""
    if kind not in IM_KINDS or len(person_ids) < 2:
        return None
    flag = "forbids_direct_im" if kind == Conversation.Kind.DIRECT else "forbids_group_im"
    for category in Category.objects.filter(**{flag: True}).order_by("pk"):
        denied = category_named_person_ids(
            category_id=category.pk, prefix="denied", person_ids=person_ids
        )
        if not denied:
            continue
        allowed = (
            category_named_person_ids(
                category_id=category.pk, prefix="allowed", person_ids=person_ids
            )
            - denied
        )
        if allowed:
            return category, min(allowed), min(denied)
    return None


def _reason(category: Category, first_id: int, second_id: int) -> str:
    names = dict(Person.objects.filter(pk__in=[first_id, second_id]).values_list("pk", "username"))
    return (
        f"The information barrier {category.name!r} forbids IM between "
        f"{names[first_id]} and {names[second_id]}."
    )


def barrier_check(*, people: list[Person], kind: str) -> None:
    """Refuse a direct or group conversation whose people a wall divides."""
    divided = barrier_dividing(person_ids=[p.pk for p in people], kind=kind)
    if divided is not None:
        raise Forbidden(_reason(*divided), code="information_barrier")


def _posting_set(conversation: Conversation, *, reason: str, is_closed: bool) -> None:
    now = timezone.now()
    conversation.posting_closed_at = now if is_closed else None
    conversation.posting_closed_reason = reason if is_closed else ""
    conversation.save(update_fields=["posting_closed_at", "posting_closed_reason"])
    archiving.capture(
        conversation_id=conversation.pk,
        conversation_kind=conversation.kind,
        is_external=conversation.is_external,
        participant_ids=participant_person_ids(conversation_id=conversation.pk),
        event=ArchiveEvent.CONVERSATION_CLOSED if is_closed else ArchiveEvent.CONVERSATION_REOPENED,
        actor=None,  # the system did it, after a directory or wall change
        occurred_at=now,
        payload={"reason": reason},
    )
    conversation_id = conversation.pk
    transaction.on_commit(
        lambda: realtime.conversation_notice(conversation_id=conversation_id, notice=reason),
        robust=True,
    )


def barriers_enforce(*, person_ids: list[int]) -> int:
    """Close the direct and group conversations of these people that a wall now divides, and
    reopen the ones no longer divided; return how many changed."""
    conversation_ids = (
        Participant.objects.filter(
            person_id__in=person_ids,
            left_at__isnull=True,
            conversation__kind__in=IM_KINDS,
        )
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    changed = 0
    for conversation_id in sorted(conversation_ids):
        with transaction.atomic():
            conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
            members = participant_person_ids(conversation_id=conversation.pk).values_list(
                "person_id", flat=True
            )
            divided = barrier_dividing(person_ids=list(members), kind=conversation.kind)
            if divided is not None and conversation.posting_closed_at is None:
                _posting_set(conversation, reason=_reason(*divided), is_closed=True)
                changed += 1
            elif divided is None and conversation.posting_closed_at is not None:
                _posting_set(
                    conversation,
                    reason="No information barrier divides this conversation any more.",
                    is_closed=False,
                )
                changed += 1
    return changed


def barriers_enforce_all() -> int:
    """Enforce every wall that forbids IM, for everyone its lists name (after a wall change,
    and on the beat as a backstop)."""
    person_ids: set[int] = set()
    for category in Category.objects.filter(forbids_direct_im=True) | Category.objects.filter(
        forbids_group_im=True
    ):
        everyone = Person.objects.filter(is_active=True).values("pk")
        for prefix in ("allowed", "denied"):
            person_ids |= category_named_person_ids(
                category_id=category.pk, prefix=prefix, person_ids=everyone
            )
    # Conversations closed by a wall since removed or relaxed reopen too.
    person_ids |= set(
        Participant.objects.filter(
            conversation__posting_closed_at__isnull=False, left_at__isnull=True
        ).values_list("person_id", flat=True)
    )
    return barriers_enforce(person_ids=sorted(person_ids))
