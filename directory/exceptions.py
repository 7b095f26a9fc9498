"""Errors raised by services; the HTTP and WebSocket edges turn them into 4xx / error frames.

Languages. A refusal's `code` is English and stable; its `detail` is a sentence for a person,
said in the language of whoever gets the answer. Services write details with `_` from this
module (sentence_gettext): the text is in the language active where the refusal is made, and
remembers its message and values, so an edge running in another language (a WebSocket post
refused on the committer's writer thread) says it again in the caller's language
(detail_text). makemessages finds these `_()` calls like any other.
"""

from django.utils.translation import gettext


class Sentence(str):
    """A translated sentence that can be said again in another language."""

    msgid: str
    values: dict | tuple | None

    def __new__(cls, msgid: str, values=None, text: str | None = None):
        sentence = super().__new__(cls, gettext(msgid) if text is None else text)
        sentence.msgid = msgid
        sentence.values = values
        return sentence

    def __mod__(self, values):
        return Sentence(self.msgid, values, str.__mod__(self, values))

    def say(self) -> str:
        """Return the sentence in the active language."""
        text = gettext(self.msgid)
        return text if self.values is None else text % self.values


def sentence_gettext(msgid: str) -> Sentence:
    """gettext() for refusals' details (import it as `_`)."""
    return Sentence(msgid)


def detail_text(detail) -> str:
    """Return a refusal's detail in the active language."""
    return detail.say() if isinstance(detail, Sentence) else str(detail)


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
# client_id (the write path dedupes on it), so nothing is lost or doubled. Transient server
# refusals count too (deadlock, serialization, lock or statement timeout); a statement the
# server can never run (e.g. a program limit, SQLSTATE class 54) does not: a retry would loop.
TRANSIENT_SQLSTATE_PREFIXES = ("08", "40", "53", "55P03", "57", "58")


def _is_transient(exc: BaseException) -> bool:
    import sqlite3

    cause = exc.__cause__
    if isinstance(cause, sqlite3.Error):
        return "locked" in str(cause) or "busy" in str(cause)
    sqlstate = getattr(cause, "sqlstate", None)
    # No SQLSTATE: the server never answered (refused, closed the connection, pool timeout).
    return sqlstate is None or sqlstate.startswith(TRANSIENT_SQLSTATE_PREFIXES)


def database_unavailable(exc: BaseException) -> Unavailable | None:
    """Return the refusal to answer for a database outage, or None for any other error."""
    from django.conf import settings
    from django.db import InterfaceError, OperationalError
    from psycopg_pool import PoolTimeout

    is_outage = isinstance(exc, InterfaceError | PoolTimeout) or (
        isinstance(exc, OperationalError) and _is_transient(exc)
    )
    if not is_outage:
        return None
    refusal = Unavailable(
        sentence_gettext(
            "The database is not reachable right now; retry after "
            "retry_after_ms (a retry with the same client_id is stored once)."
        )
    )
    refusal.retry_after_ms = int(settings.PARLEY_UNAVAILABLE_RETRY_AFTER_SECONDS * 1000)
    return refusal
