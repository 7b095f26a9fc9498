"""One error shape for the whole API: {"error": {"code": ..., "detail": ...}}."""

import logging
import math
import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.defaults import page_not_found
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from directory.exceptions import ServiceError, database_unavailable, detail_text

logger = logging.getLogger(__name__)


def error_body(code: str, detail: str) -> dict:
    """Return the API's error document."""
    return {"error": {"code": code, "detail": detail}}


def _flatten(detail, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            label = "" if key == "non_field_errors" else f"{prefix}{key}"
            out.extend(_flatten(value, f"{label}." if label else ""))
        return out
    if isinstance(detail, list):
        return [line for item in detail for line in _flatten(item, prefix)]
    text = str(detail)
    return [f"{prefix.rstrip('.')}: {text}" if prefix else text]


def _service_error_response(exc: ServiceError) -> Response:
    body = error_body(exc.code, detail_text(exc.detail))
    # Some refusals say more than code and detail (recipient_offline: who is offline).
    body["error"].update(getattr(exc, "fields", {}))
    retry_after_ms = getattr(exc, "retry_after_ms", None)
    if retry_after_ms is None:
        return Response(body, status=exc.status)
    body["error"]["retry_after_ms"] = retry_after_ms
    return Response(body, status=exc.status, headers={"Retry-After": _seconds(retry_after_ms)})


def _seconds(milliseconds: int) -> str:
    return str(max(1, math.ceil(milliseconds / 1000)))


def exception_handler(exc, context) -> Response | None:
    """Map service, Django and DRF errors to the error document with a 4xx status (503 when
    the database is unavailable)."""
    if isinstance(exc, ServiceError):
        return _service_error_response(exc)
    outage = database_unavailable(exc)
    if outage is not None:
        logger.warning("database unavailable: %s", exc)
        return _service_error_response(outage)
    if isinstance(exc, DjangoValidationError):
        return Response(error_body("invalid", "; ".join(exc.messages)), status=400)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", _("No such object.")), status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("forbidden", str(exc) or _("Not allowed.")), status=403)
    if isinstance(exc, drf_exceptions.APIException):
        if isinstance(exc, drf_exceptions.ValidationError):
            detail = "; ".join(_flatten(exc.detail))
            code = "invalid"
        else:
            detail = str(exc.detail)
            code = exc.default_code
            if isinstance(
                exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed
            ):
                code = "not_authenticated"
        response = Response(error_body(code, detail), status=exc.status_code)
        if getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))
        return response
    return None


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Answer unknown API paths in JSON, pages in HTML."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("not_found", _("No endpoint at %(path)s.") % {"path": request.path}),
            status=404,
        )
    return page_not_found(request, exception)


def _unavailable_json(outage) -> JsonResponse:
    body = error_body(outage.code, detail_text(outage.detail))
    body["error"]["retry_after_ms"] = outage.retry_after_ms
    response = JsonResponse(body, status=outage.status)
    response["Retry-After"] = _seconds(outage.retry_after_ms)
    return response


class DatabaseUnavailableMiddleware:
    """Answer a database outage in a page or a plain Django view with 503 and Retry-After.

    API views map it in exception_handler; this covers the other views, and server_error
    the middleware (sessions, authentication) where an exception is no view's.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        outage = database_unavailable(exception)
        if outage is None:
            return None
        logger.warning("database unavailable: %s", exception)
        return _unavailable_json(outage)


def server_error(request: HttpRequest) -> HttpResponse:
    """Answer a server fault; the API never shows a traceback. A database outage is a 503."""
    # Django calls this handler while handling the exception, so it is still at hand.
    outage = database_unavailable(sys.exc_info()[1] or Exception())
    if outage is not None:
        return _unavailable_json(outage)
    return JsonResponse(
        error_body("server_error", _("Parley hit an internal error; it has been logged.")),
        status=500,
    )


# -- the error answers in the OpenAPI schema --------------------------------------------------

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "detail": {"type": "string"}},
            "required": ["code", "detail"],
        }
    },
    "required": ["error"],
}
# Every operation can answer these: a body, query parameter or URL the edge refuses (400), no
# or a dead credential (401), a person not allowed (403), an object that does not exist or is
# not theirs to see (404). Writes can also meet a state that forbids them (409).
COMMON_ERRORS = {
    "400": "The request is invalid; `detail` says what to fix.",
    "401": "No credential, or one that is unknown, revoked or expired.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object, or not one the caller may see.",
}
WRITE_ERRORS = {"409": "The object's current state does not allow this change."}


class ParleyAutoSchema(AutoSchema):
    """drf-spectacular's schema, with the error answers every operation can give."""

    def _get_request_body(self, direction="request"):
        # Views that read a JSON object field by field (the compliance API) state its schema
        # as JSON Schema in `request_schemas` ({"POST": {...}}): no serializer describes them.
        # Methods in `request_body_optional` also take no body at all.
        schema = getattr(self.view, "request_schemas", {}).get(self.method)
        if schema is None:
            return super()._get_request_body(direction)
        is_optional = self.method in getattr(self.view, "request_body_optional", ())
        return {"content": {"application/json": {"schema": schema}}, "required": not is_optional}

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors = dict(COMMON_ERRORS)
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            errors.update(WRITE_ERRORS)
        errors.update(getattr(self.view, "error_responses", {}))
        for status_code, description in errors.items():
            responses.setdefault(
                status_code,
                {
                    "description": description,
                    "content": {"application/json": {"schema": ERROR_SCHEMA}},
                },
            )
        return responses
