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
