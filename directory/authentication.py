"""`Authorization: Bearer <token>` for the REST API."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from directory.exceptions import sentence_gettext as _
from directory.middleware import person_locale_activate
from directory.selectors import token_get_active
from directory.services import token_touch


def bearer_from_header(value: str) -> str | None:
    """Return the token in an Authorization header value, or None if it is not a bearer one."""
    scheme, _ignored, credentials = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authenticate with a Parley API token; request.auth is the ApiToken."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        plaintext = bearer_from_header(header)
        if plaintext is None:
            return None
        token = token_get_active(plaintext=plaintext)
        if token is None:
            raise exceptions.AuthenticationFailed(_("The token is unknown, revoked or expired."))
        token_touch(token=token)
        # The middleware ran before the token was known: answer in the person's language.
        person_locale_activate(token.person)
        return token.person, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="parley"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Describes bearer tokens in the OpenAPI document."""

    target_class = "directory.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/token/"}
