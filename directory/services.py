"""The only code that changes people and tokens."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from directory import realtime
from directory.exceptions import InvalidInput, NotAuthenticated
from directory.exceptions import sentence_gettext as _
from directory.models import ApiToken, Department, Person
from directory.selectors import token_hash


def person_create(
    *,
    username: str,
    password: str | None,
    display_name: str = "",
    email: str = "",
    title: str = "",
    department: Department | None = None,
    company: str = "",
    work_phone: str = "",
    mobile_phone: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
    is_external: bool = False,
) -> Person:
    """Store a new person; a None password leaves the account without password sign-in."""
    person = Person(
        username=username,
        display_name=display_name,
        email=email,
        title=title,
        department=department,
        company=company,
        work_phone=work_phone,
        mobile_phone=mobile_phone,
        is_staff=is_staff,
        is_superuser=is_superuser,
        is_external=is_external,
    )
    if password is None:
        person.set_unusable_password()
    else:
        person.set_password(password)
    person.full_clean(exclude=["password"])
    person.save()
    return person


def token_create(*, person: Person, label: str = "") -> tuple[ApiToken, str]:
    """Store a new API token for the person; return it with its plain text (shown once)."""
    plaintext = "prl_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        person=person, key_hash=token_hash(plaintext), prefix=plaintext[4:12], label=label
    )
    return token, plaintext


def token_create_for_credentials(*, username: str, password: str) -> tuple[ApiToken, str]:
    """Check a username and password and issue a token, or refuse without saying which was wrong."""
    person = authenticate(username=username, password=password)
    if person is None:
        raise NotAuthenticated(_("Unknown username or wrong password."), code="invalid_credentials")
    return token_create(person=person, label="api")


@transaction.atomic
def token_revoke(*, token: ApiToken) -> None:
    """Revoke the token and close the WebSockets that signed in with it."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    token_id, person_id = token.pk, token.person_id
    transaction.on_commit(
        lambda: realtime.sockets_close(person_id=person_id, token_id=token_id), robust=True
    )


def token_touch(*, token: ApiToken) -> None:
    """Record that the token was used (at most once a minute, to spare the database)."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def session_ended(*, person_id: int, session_key: str | None) -> None:
    """Close the WebSockets that signed in with this browser session (called on logout)."""
    realtime.sockets_close(person_id=person_id, session_key=session_key)


@transaction.atomic
def person_deactivate(*, person: Person) -> None:
    """Deactivate a person: their tokens stop working and their sockets close at once."""
    person.is_active = False
    person.save(update_fields=["is_active"])
    person_sockets_close(person_id=person.pk)


def person_sockets_close(*, person_id: int) -> None:
    """Close every socket of the person (4403) once the current transaction commits.

    The push for the ways Parley knows of (this service, the admin form and bulk action).
    However else a person is deactivated (a plain save, a queryset update, a directory sync),
    each server process's access sweep closes the sockets within
    PARLEY_WS_ACCESS_SWEEP_SECONDS, and every frame that reads or writes data is checked
    first (directory/socket_access.py).
    """
    transaction.on_commit(
        lambda: realtime.sockets_close(person_id=person_id, code=4403, reason="deactivated"),
        robust=True,
    )


def tokens_in_use_touch(*, token_ids: set[int]) -> None:
    """Record that tokens holding open sockets are in use (at most once a minute each), so
    that a connected program's token does not end as idle."""
    now = timezone.now()
    ApiToken.objects.filter(pk__in=token_ids).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(seconds=60))
    ).update(last_used_at=now)


def person_preferences_set(
    *, person: Person, language: str | None = None, time_zone: str | None = None
) -> Person:
    """Set the language and/or time zone a person reads Parley in ("" = not chosen: the
    browser's language, the organisation's default zone). None leaves a field as it is."""
    from django.utils.translation import gettext as _

    from directory.locale import language_supported, time_zone_valid

    fields = []
    if language is not None:
        if not isinstance(language, str) or (language and language_supported(language) is None):
            raise InvalidInput(
                _("language must be one of %(codes)s, or empty for the browser's language.")
                % {"codes": ", ".join(code for code, _name in settings.LANGUAGES)}
            )
        person.language = language_supported(language) or ""
        fields.append("language")
    if time_zone is not None:
        if not isinstance(time_zone, str) or (time_zone and not time_zone_valid(time_zone)):
            raise InvalidInput(
                _("time_zone must be an IANA time zone such as Asia/Seoul, or empty.")
            )
        person.time_zone = time_zone
        fields.append("time_zone")
    if fields:
        person.save(update_fields=fields)
    return person


def organisation_settings_set(*, default_language: str, default_time_zone: str) -> None:
    """Set the organisation's default language and time zone (the admin's form calls this)."""
    from directory.locale import organisation_defaults_forget
    from directory.models import OrganisationSettings

    OrganisationSettings.objects.update_or_create(
        pk=1,
        defaults={"default_language": default_language, "default_time_zone": default_time_zone},
    )
    organisation_defaults_forget()
