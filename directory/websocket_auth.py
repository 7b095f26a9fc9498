"""Who is on the other end of a WebSocket handshake.

Programs send `Authorization: Bearer <token>` and no Origin. Browsers send the session cookie
and always an Origin header, which must be this site itself (scheme, host and port of the
Host the socket was opened on) or a trusted origin: a session socket without such an Origin
is refused, which stops cross-site WebSocket hijacking. A token is never read
from the query string (it would end up in logs).
"""

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

from directory.authentication import bearer_from_header
from directory.selectors import token_get_active

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_parts(origin: str) -> tuple[str, str, int] | None:
    """Return (scheme, host, port) of an http(s) origin, the port filled in; None otherwise."""
    try:
        parsed = urlsplit(origin.strip())
        port = parsed.port
    except ValueError:  # a port that is not a number or out of range
        return None
    if parsed.scheme not in DEFAULT_PORTS or not parsed.hostname:
        return None
    return parsed.scheme, parsed.hostname.lower(), port or DEFAULT_PORTS[parsed.scheme]


def socket_is_secure(scope: dict) -> bool:
    """Return whether the browser reached us over TLS: wss, or https at a trusted proxy
    (SECURE_PROXY_SSL_HEADER, as Django's request.is_secure() reads it)."""
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy_header:
        return False
    name, secure_value = proxy_header
    header = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
    for key, value in scope.get("headers", []):
        if key.lower() == header:
            return value.decode("latin-1").split(",", 1)[0].strip() == secure_value
    return False


def origin_is_allowed(origin: str, *, host: str, is_secure: bool) -> bool:
    """Return whether a browser Origin is this site itself (same scheme, host and port as
    the Host the socket was opened on, that Host being one of ALLOWED_HOSTS) or one of
    CSRF_TRUSTED_ORIGINS (scheme, host and port too; `*.` entries match subdomains)."""
    parts = origin_parts(origin)
    if parts is None:
        return False
    scheme = "https" if is_secure else "http"
    domain, _ = split_domain_port(host)
    is_our_host = bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)
    if is_our_host and parts == origin_parts(f"{scheme}://{host}"):
        return True
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        trusted_scheme, _, trusted_netloc = trusted.rstrip("/").partition("://")
        if "*" in trusted_netloc:
            netloc = parts[1] if parts[2] == DEFAULT_PORTS[parts[0]] else f"{parts[1]}:{parts[2]}"
            if parts[0] == trusted_scheme and is_same_domain(netloc, trusted_netloc[1:]):
                return True
        elif parts == origin_parts(trusted):
            return True
    return False


class _TokenMiddleware:
    def __init__(self, inner, session_stack):
        self.inner = inner
        self.session_stack = session_stack

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers", []))
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        scope = dict(scope)
        scope["parley_token_id"] = None
        if authorization:
            plaintext = bearer_from_header(authorization)
            token = await database_sync_to_async(token_get_active)(plaintext=plaintext or "")
            if plaintext is None or token is None:
                scope["user"] = AnonymousUser()
                scope["parley_refusal"] = (4401, "unknown or revoked token")
            else:
                scope["user"] = token.person
                scope["parley_token_id"] = token.pk
            return await self.inner(scope, receive, send)
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not origin and b"cookie" not in headers:
            scope["user"] = AnonymousUser()
            scope["parley_refusal"] = (4401, "not signed in")
            return await self.inner(scope, receive, send)
        host = headers.get(b"host", b"").decode("latin-1")
        if not origin or not origin_is_allowed(
            origin, host=host, is_secure=socket_is_secure(scope)
        ):
            scope["user"] = AnonymousUser()
            scope["parley_refusal"] = (4403, "cookie sign-in needs an Origin of this site")
            return await self.inner(scope, receive, send)
        return await self.session_stack(scope, receive, send)


def WebSocketAuthMiddleware(inner):  # noqa: N802 - mirrors Channels' AuthMiddlewareStack
    """Wrap a WebSocket app with bearer-token or session-cookie authentication."""
    return _TokenMiddleware(inner, AuthMiddlewareStack(inner))
