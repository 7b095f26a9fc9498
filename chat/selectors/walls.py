"""Ethical walls: which room categories a person is kept out of.

Design. A category walls a person out when a denied list names them (directly, by department
or by group), or when its allowed lists name anyone and none of them is the person. Denied
wins. An empty allowed list means everyone is allowed.

The answer is a lazy subquery of category ids (`category_walled_ids`, plain UNIONs over the
list tables), so every read that must respect walls adds a NOT IN to the query it already runs
instead of another round trip:
walls are checked at read time on every path (membership checks, listings, search, feeds), not
only when someone joins, so a person moved into a denied department is out at once even before
category_update has removed their memberships.
"""

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

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


def _lists_person_sql(prefix: str) -> str:
    """Return SQL selecting the categories whose <prefix> lists name the person (3 params)."""
    people = getattr(Category, f"{prefix}_people").through._meta.db_table
    departments = getattr(Category, f"{prefix}_departments").through._meta.db_table
    groups = getattr(Category, f"{prefix}_groups").through._meta.db_table
    person = Person._meta.db_table
    person_groups = Person.groups.through._meta.db_table
    # Only table names from the models are formatted in; the person id is a parameter.
    return (
        f"SELECT category_id FROM {people} WHERE person_id = %s"  # noqa: S608
        f" UNION SELECT d.category_id FROM {departments} d"
        f" JOIN {person} p ON p.department_id = d.department_id WHERE p.id = %s"
        f" UNION SELECT g.category_id FROM {groups} g"
        f" JOIN {person_groups} pg ON pg.group_id = g.group_id WHERE pg.person_id = %s"
    )


def _lists_anyone_sql(prefix: str) -> str:
    return " UNION ".join(
        f"SELECT category_id FROM {getattr(Category, f'{prefix}_{kind}').through._meta.db_table}"  # noqa: S608
        for kind in ("people", "departments", "groups")
    )


_WALLED_SQL: str | None = None


def _walled_sql() -> str:
    # Plain UNIONs over the small list tables: the ORM's nine EXISTS clauses cost ~10 ms of
    # compiling and planning on every membership check; this text is built once and plans in
    # well under a millisecond. Written for both SQLite and PostgreSQL (no parenthesised
    # compound selects).
    global _WALLED_SQL
    if _WALLED_SQL is None:
        _WALLED_SQL = (
            f"SELECT denied.category_id FROM ({_lists_person_sql('denied')}) denied"  # noqa: S608
            f" UNION SELECT restricted.category_id FROM ({_lists_anyone_sql('allowed')})"
            f" restricted WHERE restricted.category_id NOT IN ({_lists_person_sql('allowed')})"
        )
    return _WALLED_SQL


def category_walled_ids(*, person_id: int) -> RawSQL:
    """Return a lazy subquery of the ids of the categories the person is walled out of, for
    `category_id__in=` filters."""
    return RawSQL(_walled_sql(), [person_id] * 6)  # noqa: S611 - fixed text, id as a parameter


def category_walled_sql(*, person_id: int) -> tuple[str, list[int]]:
    """Return the SQL and parameters selecting the ids of the categories walling the person
    out (for raw SQL queries)."""
    return _walled_sql(), [person_id] * 6


def category_walled_id_list(*, person_id: int) -> set[int]:
    """Return the ids of the categories the person is walled out of."""
    with connection.cursor() as cursor:
        cursor.execute(_walled_sql(), [person_id] * 6)
        return {row[0] for row in cursor.fetchall()}


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
    return category_id in category_walled_id_list(person_id=person_id)


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


def category_named_person_ids(*, category_id: int, prefix: str, person_ids) -> set[int]:
    """Return which of the people the category's <prefix> lists ("allowed", "denied",
    "creator") name, directly, by department or by group, in one query."""
    condition = _person_named(prefix, category_id=category_id)
    return set(Person.objects.filter(condition, pk__in=person_ids).values_list("pk", flat=True))
