"""Errors raised by services; the HTTP and WebSocket edges turn them into 4xx / error frames."""


class ServiceError(Exception):
    """A refusal the caller can act on: a stable code, a sentence that says what to fix."""

    status = 400
    code = "invalid"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class InvalidInput(ServiceError):
    status = 400
    code = "invalid"


class NotAuthenticated(ServiceError):
    status = 401
    code = "not_authenticated"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Unavailable(ServiceError):
    """A dependency the request needs is down (e.g. the archive in critical mode)."""

    status = 503
    code = "unavailable"
    # When set, the answer carries it (frame `retry_after_ms`, HTTP `Retry-After` in seconds).
    retry_after_ms: int | None = None


# Errors that mean the database is not there right now (restarting, failing over, the pool
# cannot get a connection), as opposed to a fault in Parley: the edges answer them with 503 /
# an `unavailable` error frame carrying when to retry, and clients retry with the same
# client_id (the write path dedupes on it), so nothing is lost or doubled. OperationalError also
# covers deadlocks and lock or statement timeouts, which a retry resolves as well.
def database_unavailable(exc: BaseException) -> Unavailable | None:
    """Return the refusal to answer for a database outage, or None for any other error."""
    from django.conf import settings
    from django.db import InterfaceError, OperationalError
    from psycopg_pool import PoolTimeout

    if not isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return None
    refusal = Unavailable(
        "The database is not reachable right now; retry after retry_after_ms (a retry with the "
        "same client_id is stored once)."
    )
    refusal.retry_after_ms = int(settings.PARLEY_UNAVAILABLE_RETRY_AFTER_SECONDS * 1000)
    return refusal
