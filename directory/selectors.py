"""Reads about people and tokens."""

import hashlib
from datetime import datetime, timedelta
from urllib.parse import quote

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from directory.models import ApiToken, Person


def token_hash(plaintext: str) -> str:
    """Return the stored form of a token."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def token_usable_q(*, now: datetime) -> Q:
    """Return the filter of tokens not revoked, not past their age and not idle too long."""
    usable = Q(revoked_at__isnull=True)
    max_age = settings.PARLEY_TOKEN_MAX_AGE_SECONDS
    if max_age:
        usable &= Q(created_at__gt=now - timedelta(seconds=max_age))
    idle = settings.PARLEY_TOKEN_IDLE_SECONDS
    if idle:
        cutoff = now - timedelta(seconds=idle)
        usable &= Q(last_used_at__gt=cutoff) | Q(last_used_at__isnull=True, created_at__gt=cutoff)
    return usable


def token_expires_at(*, token: ApiToken) -> datetime | None:
    """Return when the token ends at the latest (None when tokens do not age)."""
    max_age = settings.PARLEY_TOKEN_MAX_AGE_SECONDS
    return token.created_at + timedelta(seconds=max_age) if max_age else None


def token_get_active(*, plaintext: str) -> ApiToken | None:
    """Return the live token with its person, or None if unknown, revoked, expired, idle too
    long or its person deactivated."""
    token = (
        ApiToken.objects.select_related("person")
        .filter(token_usable_q(now=timezone.now()), key_hash=token_hash(plaintext))
        .first()
    )
    if token is None or not token.person.is_active:
        return None
    return token


PERSON_DEACTIVATED = "deactivated"
TOKEN_ENDED = "token_ended"  # noqa: S105 - a reason, not a secret


def socket_credentials_ended(
    *, person_ids: set[int], token_ids: set[int]
) -> tuple[set[int], set[int]]:
    """Return, of these people and tokens, those who may no longer hold a socket: people
    deactivated (or deleted), and tokens revoked, expired or idle too long. Two queries."""
    active = set(
        Person.objects.filter(pk__in=person_ids, is_active=True).values_list("pk", flat=True)
    )
    usable = set(
        ApiToken.objects.filter(token_usable_q(now=timezone.now()), pk__in=token_ids).values_list(
            "pk", flat=True
        )
    )
    return person_ids - active, token_ids - usable


SESSION_ENDED = "session_ended"
# Engines whose sessions are rows that one query can list; other engines' sessions are only
# ended by sign-out (which pushes the close) or by the person's deactivation.
DATABASE_SESSION_ENGINES = {
    "django.contrib.sessions.backends.db",
    "django.contrib.sessions.backends.cached_db",
}


def sessions_ended(*, session_keys: set[str]) -> set[str]:
    """Return, of these browser sessions, those that ended without a sign-out here (flushed,
    deleted, expired); one query."""
    if not session_keys or settings.SESSION_ENGINE not in DATABASE_SESSION_ENGINES:
        return set()
    from django.contrib.sessions.models import Session

    live = Session.objects.filter(session_key__in=session_keys, expire_date__gt=timezone.now())
    return session_keys - set(live.values_list("session_key", flat=True))


def socket_access_ended(*, person_id: int, token_id: int | None) -> str | None:
    """Return why one socket's credentials no longer hold (PERSON_DEACTIVATED, TOKEN_ENDED),
    or None while they do: one query on the usual path."""
    if token_id is None:
        if Person.objects.filter(pk=person_id, is_active=True).exists():
            return None
    elif ApiToken.objects.filter(
        token_usable_q(now=timezone.now()), pk=token_id, person__is_active=True
    ).exists():
        return None
    people, _ = socket_credentials_ended(
        person_ids={person_id}, token_ids=set() if token_id is None else {token_id}
    )
    return PERSON_DEACTIVATED if people else TOKEN_ENDED


def sockets_access_ended(
    *, credentials: set[tuple[int, int | None]]
) -> dict[tuple[int, int | None], str]:
    """Return, for those of these sockets' (person_id, token_id) whose credentials no longer
    hold, why (PERSON_DEACTIVATED, TOKEN_ENDED): what socket_access_ended says of each, for a
    whole batch of frames. One query when every socket has a token (or none has one), two
    for a mix; the ended ones cost two more (rare)."""
    token_ids = {token for _, token in credentials if token is not None}
    session_people = {person for person, token in credentials if token is None}
    held: set[tuple[int, int | None]] = set()
    if token_ids:
        held.update(
            ApiToken.objects.filter(
                token_usable_q(now=timezone.now()), pk__in=token_ids, person__is_active=True
            ).values_list("person_id", "pk")
        )
    if session_people:
        held.update(
            (pk, None)
            for pk in Person.objects.filter(pk__in=session_people, is_active=True).values_list(
                "pk", flat=True
            )
        )
    ended = credentials - held
    if not ended:
        return {}
    people, _ = socket_credentials_ended(
        person_ids={person for person, _ in ended},
        token_ids={token for _, token in ended if token is not None},
    )
    return {
        (person, token): PERSON_DEACTIVATED if person in people else TOKEN_ENDED
        for person, token in ended
    }


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


def person_photo_url(person: Person) -> str | None:
    """Where a person's photo is read (through the privacy projection), versioned by file so
    browsers may cache it; None when they have none."""
    if not person.photo:
        return None
    version = hashlib.sha256(person.photo.name.encode()).hexdigest()[:12]
    return f"/api/v1/users/{quote(person.username, safe='')}/photo/?v={version}"


def person_in_group(person, *, group: str) -> bool:
    """Return whether the person is signed in, active and a member of the named group (the
    roles: Compliance, Supervision)."""
    if not getattr(person, "is_authenticated", False) or not person.is_active:
        return False
    return person.groups.filter(name=group).exists()
