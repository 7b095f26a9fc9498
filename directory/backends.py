"""Sign-in backends: local passwords (can be limited to break-glass administrators), LDAP bind,
and OpenID Connect single sign-on matched to the synced directory."""

import logging

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from directory.integrations import ldap
from directory.models import Person
from directory.sync import directory_person_sync

log = logging.getLogger(__name__)


def local_password_allowed(username: str | None) -> bool:
    """Return whether this username may sign in with a password stored in Parley."""
    return settings.PARLEY_LOCAL_PASSWORDS or username in settings.PARLEY_BREAK_GLASS_ADMINS


class LocalPasswordBackend(ModelBackend):
    """Django's password check, refused for everyone but the break-glass administrators when
    PARLEY_LOCAL_PASSWORDS is off."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(Person.USERNAME_FIELD)
        if not local_password_allowed(username):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class LdapBindBackend(ModelBackend):
    """Check the password by binding to the directory as the person's entry.

    A person not yet synced is created from their entry (as the next sync would); a disabled
    entry is refused. Off while no LDAP server is configured.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not ldap.ldap_is_configured() or not username or not password:
            return None
        try:
            entry = ldap.directory_entry_get(username=username)
            if entry is None or entry.is_disabled:
                return None
            if not ldap.password_check(dn=entry.dn, password=password):
                return None
        except ldap.DirectoryUnavailable:
            log.exception("LDAP sign-in for %s: the directory did not answer", username)
            return None
        person = directory_person_sync(entry=entry)
        return person if self.user_can_authenticate(person) else None


class OidcBackend(OIDCAuthenticationBackend):
    """OpenID Connect sign-in for people the directory knows: matched by the username claim
    (PARLEY_OIDC_USERNAME_CLAIM), else by e-mail; unknown people are refused unless
    PARLEY_OIDC_CREATE_USERS."""

    def verify_claims(self, claims):
        return bool(claims.get(settings.PARLEY_OIDC_USERNAME_CLAIM) or claims.get("email"))

    def filter_users_by_claims(self, claims):
        people = Person.objects.filter(is_external=False)
        username = claims.get(settings.PARLEY_OIDC_USERNAME_CLAIM)
        if username:
            match = people.filter(username=username)
            if match.exists():
                return match
        email = claims.get("email")
        if not email:
            return people.none()
        return people.filter(email__iexact=email)

    def describe_user_by_claims(self, claims):
        username = claims.get(settings.PARLEY_OIDC_USERNAME_CLAIM)
        return f"username {username}, email {claims.get('email')}"

    def get_or_create_user(self, access_token, id_token, payload):
        person = super().get_or_create_user(access_token, id_token, payload)
        if person is not None and not person.is_active:
            raise SuspiciousOperation(f"{person.username} is deactivated.")
        return person

    def get_user(self, user_id):
        # mozilla-django-oidc's get_user returns deactivated people too, which would keep an SSO
        # browser session of a leaver alive; Django's ModelBackend refuses them, and so do we.
        person = super().get_user(user_id)
        return person if person is not None and person.is_active else None

    def create_user(self, claims):
        if not settings.PARLEY_OIDC_CREATE_USERS:
            log.warning("SSO refused: no person matches %s", self.describe_user_by_claims(claims))
            return None
        from directory.services import person_create

        username = claims.get(settings.PARLEY_OIDC_USERNAME_CLAIM) or claims["email"]
        return person_create(
            username=username,
            password=None,
            email=claims.get("email", ""),
            display_name=claims.get("name", ""),
        )
