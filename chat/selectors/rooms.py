"""Reads of rooms, their members and invitations, from one person's point of view.

A room is visible to a person when its category does not wall them out and it is not secret,
or they are in it. Everything invisible answers NotFound, exactly like a room that does not
exist, so non-members learn nothing of secret rooms.
"""

from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Subquery, Value, When

from chat.models import Category, Conversation, Invitation, Participant
from chat.selectors.conversations import ACTIVE, unwalled
from directory.exceptions import NotFound
from directory.exceptions import sentence_gettext as _

DIRECTORY_PAGE = 50


def _member_count() -> Subquery:
    return Subquery(
        Participant.objects.filter(ACTIVE, conversation_id=OuterRef("pk"))
        .values("conversation_id")
        .annotate(total=Count("id"))
        .values("total")
    )


def _my_participation(person_id: int) -> QuerySet[Participant]:
    return Participant.objects.filter(ACTIVE, conversation_id=OuterRef("pk"), person_id=person_id)


def room_queryset_visible_to(*, person_id: int) -> QuerySet[Conversation]:
    """Return the rooms the person may see, each with member_count, is_member and my_role."""
    mine = _my_participation(person_id)
    return (
        Conversation.objects.filter(kind=Conversation.Kind.ROOM)
        .filter(unwalled(person_id, prefix=""))
        .annotate(
            is_member=Exists(mine),
            my_role=Subquery(mine.values("role")[:1]),
            member_count=_member_count(),
        )
        .filter(~Q(privacy=Conversation.Privacy.SECRET) | Q(is_member=True))
        .select_related("category")
    )


def room_get_visible(*, person_id: int, room_id: int) -> Conversation:
    """Return a room the person may see, or NotFound."""
    room = room_queryset_visible_to(person_id=person_id).filter(pk=room_id).first()
    if room is None:
        raise NotFound(
            _("Room %(room_id)s does not exist.") % {"room_id": room_id}, code="room_not_found"
        )
    return room


def room_list_visible_to(
    *, person_id: int, query: str = "", category: str = "", limit: int = DIRECTORY_PAGE, offset=0
) -> tuple[list[Conversation], int]:
    """Return a page of the room directory (name, topic or category matching the query) and
    the total."""
    rooms = room_queryset_visible_to(person_id=person_id)
    if query:
        rooms = rooms.filter(
            Q(title__icontains=query)
            | Q(topic__icontains=query)
            | Q(category__name__icontains=query)
        )
    if category:
        rooms = rooms.filter(
            Q(category_id=int(category))
            if category.isdigit()
            else Q(category__name__iexact=category)
        )
    total = rooms.count()
    return list(rooms.order_by("title", "pk")[offset : offset + limit]), total


def room_members_list(*, room_id: int, limit: int, offset: int) -> list[Participant]:
    """Return a page of a room's members: managers, then presenters, then members."""
    rank = Case(
        When(role=Participant.Role.MANAGER, then=Value(0)),
        When(role=Participant.Role.PRESENTER, then=Value(1)),
        default=Value(2),
    )
    return list(
        Participant.objects.filter(ACTIVE, conversation_id=room_id)
        .select_related("person")
        .annotate(rank=rank)
        .order_by("rank", "person__username")[offset : offset + limit]
    )


def invitation_list_for_person(*, person_id: int) -> list[Invitation]:
    """Return the person's pending invitations to rooms they are not walled out of."""
    return list(
        Invitation.objects.filter(
            unwalled(person_id), invitee_id=person_id, status=Invitation.Status.PENDING
        )
        .select_related("conversation", "invited_by")
        .order_by("-created_at")
    )


def category_get(*, category_id) -> Category | None:
    """Return a category by id, or None."""
    if category_id is None:
        return None
    return Category.objects.filter(pk=category_id).first()
