"""Ethical walls: which room categories a person is kept out of.

Design. A category walls a person out when a denied list names them (directly, by department
or by group), or when its allowed lists name anyone and none of them is the person. Denied
wins. An empty allowed list means everyone is allowed.

The answer is a lazy subquery of category ids (`category_walled_ids`), so every read that
must respect walls adds a NOT IN to the query it already runs instead of another round trip:
walls are checked at read time on every path (membership checks, listings, search, feeds), not
only when someone joins, so a person moved into a denied department is out at once even before
category_update has removed their memberships.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

from chat.models import Category
from directory.models import Person

_PEOPLE, _DEPARTMENTS, _GROUPS = "people", "departments", "groups"


def _names_person(prefix: str, *, person_id: int) -> Q:
    """Return a condition on Category: its <prefix> lists name the person."""
    groups = Person.groups.through.objects.filter(person_id=person_id).values("group_id")
    department = Person.objects.filter(pk=person_id).values("department_id")
    people = getattr(Category, f"{prefix}_people").through.objects.filter(
        category_id=OuterRef("pk"), person_id=person_id
    )
    departments = getattr(Category, f"{prefix}_departments").through.objects.filter(
        category_id=OuterRef("pk"), department_id__in=department
    )
    group_rows = getattr(Category, f"{prefix}_groups").through.objects.filter(
        category_id=OuterRef("pk"), group_id__in=groups
    )
    return Q(Exists(people)) | Q(Exists(departments)) | Q(Exists(group_rows))


def _lists_anyone(prefix: str) -> Q:
    """Return a condition on Category: its <prefix> lists are not all empty."""
    return (
        Q(
            Exists(
                getattr(Category, f"{prefix}_people").through.objects.filter(
                    category_id=OuterRef("pk")
                )
            )
        )
        | Q(
            Exists(
                getattr(Category, f"{prefix}_departments").through.objects.filter(
                    category_id=OuterRef("pk")
                )
            )
        )
        | Q(
            Exists(
                getattr(Category, f"{prefix}_groups").through.objects.filter(
                    category_id=OuterRef("pk")
                )
            )
        )
    )


def _walled_condition(person_id: int) -> Q:
    return _names_person("denied", person_id=person_id) | (
        _lists_anyone("allowed") & ~_names_person("allowed", person_id=person_id)
    )


def category_walled_ids(*, person_id: int) -> QuerySet:
    """Return a lazy subquery of the ids of the categories the person is walled out of."""
    return Category.objects.filter(_walled_condition(person_id)).values("pk")


def category_list_open_to(*, person_id: int) -> QuerySet[Category]:
    """Return the categories the person is not walled out of, each with `can_create`."""
    creators_named = _lists_anyone("creator")
    return (
        Category.objects.exclude(pk__in=category_walled_ids(person_id=person_id))
        .annotate(
            is_creator_restricted=creators_named,
            is_named_creator=_names_person("creator", person_id=person_id),
        )
        .order_by("name")
    )


def category_is_walled(*, category_id: int | None, person_id: int) -> bool:
    """Return whether the person is walled out of the category (no category: never)."""
    if category_id is None:
        return False
    return category_walled_ids(person_id=person_id).filter(pk=category_id).exists()


def category_can_create(*, category_id: int | None, person_id: int) -> bool:
    """Return whether the person may create a room in the category."""
    if category_id is None:
        return True
    category = category_list_open_to(person_id=person_id).filter(pk=category_id).first()
    return category is not None and (
        not category.is_creator_restricted or category.is_named_creator
    )


def _person_named(prefix: str, *, category_id: int) -> Q:
    """Return a condition on Person: the category's <prefix> lists name them."""
    people = getattr(Category, f"{prefix}_people").through.objects.filter(
        category_id=category_id, person_id=OuterRef("pk")
    )
    departments = getattr(Category, f"{prefix}_departments").through.objects.filter(
        category_id=category_id, department_id=OuterRef("department_id")
    )
    listed_groups = getattr(Category, f"{prefix}_groups").through.objects.filter(
        category_id=category_id
    )
    groups = Person.groups.through.objects.filter(
        person_id=OuterRef("pk"), group_id__in=listed_groups.values("group_id")
    )
    return Q(Exists(people)) | Q(Exists(departments)) | Q(Exists(groups))


def category_walled_person_ids(*, category_id: int | None, person_ids) -> set[int]:
    """Return which of the people (ids or a subquery of ids) the category walls out, in one
    query."""
    if category_id is None:
        return set()
    is_restricted = Category.objects.filter(_lists_anyone("allowed"), pk=category_id).exists()
    condition = _person_named("denied", category_id=category_id)
    if is_restricted:
        condition |= ~_person_named("allowed", category_id=category_id)
    return set(Person.objects.filter(condition, pk__in=person_ids).values_list("pk", flat=True))
