"""Who is on the other end of a WebSocket handshake.

Programs send `Authorization: Bearer <token>` and no Origin. Browsers send the session cookie
and always an Origin header, which must name one of our hosts: a session socket without a
matching Origin is refused, which stops cross-site WebSocket hijacking. A token is never read
from the query string (it would end up in logs).
"""

from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import validate_host

from directory.authentication import bearer_from_header
from directory.selectors import token_get_active


def origin_is_allowed(origin: str) -> bool:
    """Return whether a browser Origin names one of this deployment's hosts."""
    parsed = urlsplit(origin)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    if origin.rstrip("/") in {o.rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}:
        return True
    host = parsed.hostname if ":" not in parsed.hostname else f"[{parsed.hostname}]"
    return validate_host(host, settings.ALLOWED_HOSTS)


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
        if not origin or not origin_is_allowed(origin):
            scope["user"] = AnonymousUser()
            scope["parley_refusal"] = (4403, "cookie sign-in needs an Origin of this site")
            return await self.inner(scope, receive, send)
        return await self.session_stack(scope, receive, send)


def WebSocketAuthMiddleware(inner):  # noqa: N802 - mirrors Channels' AuthMiddlewareStack
    """Wrap a WebSocket app with bearer-token or session-cookie authentication."""
    return _TokenMiddleware(inner, AuthMiddlewareStack(inner))
