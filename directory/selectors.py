"""Reads about people and tokens."""

import hashlib

from django.db.models import Q, QuerySet

from directory.models import ApiToken, Person


def token_hash(plaintext: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def token_get_active(*, plaintext: str) -> ApiToken | None:
    """Return the live token with its person, or None if unknown, revoked or deactivated."""
    token = (
        ApiToken.objects.select_related("person")
        .filter(key_hash=token_hash(plaintext), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.person.is_active:
        return None
    return token


def person_list_search(*, query: str, limit: int = 50) -> QuerySet[Person]:
    """Return active people whose username, name or e-mail contains the query."""
    people = (
        Person.objects.filter(is_active=True)
        .select_related("department")
        .prefetch_related("groups")
    )
    query = query.strip()
    if query:
        people = people.filter(
            Q(username__icontains=query)
            | Q(display_name__icontains=query)
            | Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(email__icontains=query)
        )
    return people.order_by("username")[:limit]


def person_get_active(*, username: str) -> Person | None:
    """Return the active person with this username, or None."""
    return Person.objects.filter(username=username, is_active=True).first()


def person_get_any(*, username: str) -> Person | None:
    """Return the person with this username, active or not (for the archive), or None."""
    return Person.objects.filter(username=username).first()
