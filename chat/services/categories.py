"""Room categories: the ethical walls. Changing one re-checks the members of its rooms.

Design. A wall change must take effect at once and leave a trail: every member the changed
category now walls out is removed from each of its rooms, each removal is an archived
`participant.left` event with reason "ethical_wall", and their live sockets are detached
from the room after commit. Reads apply walls too (chat.selectors.walls), so nothing leaks in
the moment between the change and the removals.
"""

from django.db import transaction

from chat.models import Category, Conversation
from chat.services import barriers
from chat.services.rooms import _room_members_recheck
from directory.exceptions import InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Person

SCALARS = {
    "name",
    "description",
    "allows_invitations",
    "allows_files",
    "keeps_history",
    "forbids_direct_im",
    "forbids_group_im",
}
LISTS = {
    f"{prefix}_{kind}"
    for prefix in ("allowed", "denied", "creator")
    for kind in ("people", "departments", "groups")
}


def category_fields() -> list[str]:
    """Return the names of the fields category_update changes."""
    return sorted(SCALARS | LISTS)


@transaction.atomic
def category_create(*, name: str, description: str = "", **changes) -> Category:
    """Store a new category (it has no rooms yet, so nothing to re-check)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(_("A category needs a name."))
    category = Category.objects.create(name=name.strip(), description=description)
    _apply(category, changes)
    return category


def _apply(category: Category, changes: dict) -> None:
    unknown = set(changes) - SCALARS - LISTS
    if unknown:
        raise InvalidInput(
            _("Unknown category field(s): %(unknown)s.") % {"unknown": ", ".join(sorted(unknown))}
        )
    for field in SCALARS & set(changes):
        setattr(category, field, changes[field])
    category.full_clean()
    category.save()
    for field in LISTS & set(changes):
        getattr(category, field).set(changes[field])


@transaction.atomic
def category_update(*, actor: Person | None, category_id: int, changes: dict) -> int:
    """Change a category and remove the members its rooms now wall out; return how many
    memberships ended."""
    category = Category.objects.select_for_update().filter(pk=category_id).first()
    if category is None:
        raise NotFound(
            _("Category %(category_id)s does not exist.") % {"category_id": category_id},
            code="category_not_found",
        )
    _apply(category, changes)
    removed = category_rooms_recheck(actor=actor, category_id=category.pk)
    # The wall's IM rules may now divide (or no longer divide) direct and group conversations.
    barriers.barriers_enforce_all()
    return removed


def category_rooms_recheck(*, actor: Person | None, category_id: int) -> int:
    """Remove, from every room of the category, the members it walls out."""
    removed = 0
    rooms = Conversation.objects.select_related("category").filter(category_id=category_id)
    for room in rooms.select_for_update(of=("self",)).order_by("pk"):
        removed += _room_members_recheck(room=room, actor=actor)
    return removed


def category_walls_sweep() -> int:
    """Re-check every category's rooms; return how many memberships ended.

    Catches walls that changed without category_update: a person moved into a denied
    department or group. Reads already keep them out; this ends the membership (archived, with
    no actor: the system did it) and detaches their live sockets from the room.
    """
    removed = 0
    for category_id in Category.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            removed += category_rooms_recheck(actor=None, category_id=category_id)
    return removed
