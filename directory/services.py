"""The only code that changes people and tokens."""

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from directory import realtime
from directory.exceptions import InvalidInput, NotAuthenticated
from directory.exceptions import sentence_gettext as _
from directory.integrations import mailbox
from directory.models import ApiToken, Department, MailboxSync, Person
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


# What an uploaded photo may be, told by its first bytes (the name and the browser's
# Content-Type are the sender's word, not the file's).
PHOTO_SIGNATURES = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
)
UPLOADED_PHOTOS = "photos/uploaded/"


def _photo_extension(content: bytes) -> str | None:
    for signature, extension in PHOTO_SIGNATURES:
        if content.startswith(signature):
            return extension
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    return None


def _photo_file_drop(person: Person) -> None:
    """Delete the person's previous uploaded photo file (a directory photo stays the sync's)."""
    if person.photo and person.photo.name.startswith(UPLOADED_PHOTOS):
        name = person.photo.name
        transaction.on_commit(lambda: default_storage.delete(name), robust=True)


@transaction.atomic
def person_photo_set(*, person: Person, content: bytes) -> Person:
    """Store a person's own photo (JPEG, PNG or WebP, at most PARLEY_PHOTO_MAX_BYTES); the
    privacy projection decides who sees it, and watchers are told the new one."""
    from presence.services import presence_republish

    limit = settings.PARLEY_PHOTO_MAX_BYTES
    if not content:
        raise InvalidInput(_("The photo is empty."), code="photo_empty")
    if len(content) > limit:
        raise InvalidInput(
            _("The photo is %(content)s bytes; the limit is %(limit)s bytes.")
            % {"content": len(content), "limit": limit},
            code="photo_too_large",
        )
    extension = _photo_extension(content)
    if extension is None:
        raise InvalidInput(
            _("A photo must be a JPEG, PNG or WebP image."), code="photo_type_not_allowed"
        )
    person = Person.objects.select_for_update().get(pk=person.pk)
    _photo_file_drop(person)
    digest = hashlib.sha256(content).hexdigest()[:16]
    name = default_storage.save(
        f"{UPLOADED_PHOTOS}{person.username}-{digest}.{extension}", ContentFile(content)
    )
    person.photo.name = name
    person.save(update_fields=["photo"])
    presence_republish(person=person)
    return person


@transaction.atomic
def person_photo_remove(*, person: Person) -> None:
    """Remove a person's photo; watchers see their initials again."""
    from presence.services import presence_republish

    person = Person.objects.select_for_update().get(pk=person.pk)
    if not person.photo:
        return
    _photo_file_drop(person)
    person.photo = ""
    person.save(update_fields=["photo"])
    presence_republish(person=person)


# -- the person's mailbox (conversation history, contacts) -----------------------------------

log = logging.getLogger(__name__)
MAILBOX_FEATURES = {
    "conversation_history": ("keeps_conversation_history", "PARLEY_CONVERSATION_HISTORY"),
    "contact_sync": ("syncs_contacts", "PARLEY_CONTACT_SYNC"),
}


def mailbox_feature_is_on(*, feature: str) -> bool:
    """Return whether the administrator turned this mailbox feature on (and a server is set)."""
    return bool(getattr(settings, MAILBOX_FEATURES[feature][1])) and mailbox.is_configured()


def mailbox_feature_people(*, feature: str, person_id: int | None = None) -> list[int]:
    """Return the ids of the people who keep this mailbox feature on (this person's alone, or
    nobody, when person_id is given); nobody while the administrator's switch is off."""
    if not mailbox_feature_is_on(feature=feature):
        return []
    syncs = MailboxSync.objects.filter(
        **{MAILBOX_FEATURES[feature][0]: True},
        person__is_active=True,
        person__is_external=False,
    )
    if person_id is not None:
        syncs = syncs.filter(person_id=person_id)
    return list(
        syncs.exclude(person__email="").order_by("person_id").values_list("person_id", flat=True)
    )


def mailbox_feature_run(*, feature: str, person_id: int, run, retry_text: str, error_text: str):
    """Call run(person=, mailbox=) for one person who keeps the feature on and record how it
    ended: a refusal (sign-in failed, no right on the mailbox) is recorded and left for the
    next scheduled run (None); MailboxUnavailableError (busy, throttled) is recorded and
    raised, for the task to retry. `retry_text` and `error_text` format the error."""
    box = mailbox.mailbox_get()
    person = Person.objects.filter(pk=person_id, is_active=True).first()
    if box is None or person is None:
        return None
    if not mailbox_feature_people(feature=feature, person_id=person_id):
        return None
    try:
        result = run(person=person, mailbox=box)
    except mailbox.MailboxUnavailableError as error:
        mailbox_sync_report(person_id=person_id, error=retry_text % {"error": error})
        raise
    except mailbox.MailboxError as error:
        mailbox_sync_report(person_id=person_id, error=error_text % {"error": error})
        return None
    mailbox_sync_report(person_id=person_id, error=None)
    return result


@transaction.atomic
def mailbox_sync_update(*, person: Person, choices: dict) -> MailboxSync:
    """Store the person's choice of what Parley keeps in their mailbox."""
    sync, _created = MailboxSync.objects.select_for_update().get_or_create(person=person)
    for feature, value in choices.items():
        if feature not in MAILBOX_FEATURES:
            raise InvalidInput(
                gettext("Unknown setting %(name)s: use %(known)s.")
                % {"name": feature, "known": ", ".join(MAILBOX_FEATURES)},
                code="invalid_mailbox_setting",
            )
        if not isinstance(value, bool):
            raise InvalidInput(
                gettext("%(name)s must be true or false.") % {"name": feature},
                code="invalid_mailbox_setting",
            )
        if value and not mailbox_feature_is_on(feature=feature):
            raise InvalidInput(
                gettext("%(name)s is not offered on this server (an administrator turns it on).")
                % {"name": feature},
                code="mailbox_feature_off",
            )
        if value and not person.email:
            raise InvalidInput(
                gettext("%(name)s needs an e-mail address (your mailbox) in your directory entry.")
                % {"name": feature},
                code="no_mailbox",
            )
        field = MAILBOX_FEATURES[feature][0]
        if value and not getattr(sync, field) and feature == "conversation_history":
            # Conversation history starts when it is turned on, as in Lync: the backlog of
            # years is not poured into the mailbox.
            sync.history_checked_until = sync.history_checked_until or timezone.now()
        setattr(sync, field, value)
    sync.save()
    return sync


def mailbox_sync_report(*, person_id: int, error: str | None) -> None:
    """Record how the last mailbox run of a person ended (None: it succeeded)."""
    if error is None:
        MailboxSync.objects.filter(person_id=person_id).exclude(last_error="").update(
            last_error="", last_error_at=None
        )
        return
    log.warning("Mailbox of person %s: %s", person_id, error)
    MailboxSync.objects.filter(person_id=person_id).update(
        last_error=error[:500], last_error_at=timezone.now()
    )


def person_preferences_set(
    *, person: Person, language: str | None = None, time_zone: str | None = None
) -> Person:
    """Set the language and/or time zone a person reads Parley in ("" = not chosen: the
    browser's language, the organisation's default zone). None leaves a field as it is; a
    new time zone is published to watchers (contact cards show the person's local time)."""
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
    zone_changed = False
    if time_zone is not None:
        if not isinstance(time_zone, str) or (time_zone and not time_zone_valid(time_zone)):
            raise InvalidInput(
                _("time_zone must be an IANA time zone such as Asia/Seoul, or empty."),
                code="unknown_time_zone",
            )
        zone_changed = person.time_zone != time_zone
        person.time_zone = time_zone
        fields.append("time_zone")
    if fields:
        person.save(update_fields=fields)
    if zone_changed:
        from presence.services import presence_republish

        presence_republish(person=person)
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
