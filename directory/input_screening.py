"""Input that no field may hold, refused once at each edge (REST and WebSocket).

PostgreSQL text cannot store NUL (U+0000), and UTF-8 cannot encode a lone surrogate
(U+D800..U+DFFF); JSON `\\u` escapes and percent-encoded URLs carry both. A deeply nested JSON
document overflows the stack of Python's recursive decoder (RecursionError). Rather than every
field, query parameter and frame handler checking for these, the edges refuse them before any
view or handler runs: the REST API through `ScreenedJSONParser` (bodies) and
`InputScreeningMiddleware` (URL paths and query strings), the WebSocket through
`WebSocketInputScreening` (its URL) and `frame_decode` (every frame).
Refusals name the field, so a client can tell which of its inputs to fix.
"""

import codecs
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from directory.exceptions import sentence_gettext as _

# Deeper than any document Parley reads (the deepest, an archive search with its facets, is 3).
MAX_DEPTH = 32
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


class MalformedInput(ValueError):
    """A document that cannot be read: not JSON, or nested too deeply."""


class InputRefused(ValueError):
    """A readable document with a value no field may hold; `field` names where it is."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


def text_problem(text: str) -> str | None:
    """Return why no field may hold this text, or None when it is acceptable."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain the NUL character (U+0000)."
    return (
        f"must not contain a lone surrogate (U+{ord(found.group()):04X}); "
        "send text as valid Unicode."
    )


def value_check(value: Any, *, field: str = "") -> None:
    """Raise InputRefused naming the first string (key or value) no field may hold."""
    # Iterative: the document's depth is already bounded, but a walk should not depend on it.
    pending: list[tuple[str, Any]] = [(field, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                raise InputRefused(path or "value", problem)
        elif isinstance(item, dict):
            for key, child in item.items():
                key_path = f"{path}.{key}" if path else str(key)
                problem = text_problem(key) if isinstance(key, str) else None
                if problem is not None:
                    raise InputRefused(path or "key", f"a key {problem}")
                pending.append((key_path, child))
        elif isinstance(item, list | tuple):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(item))


def _depth_check(text: str) -> None:
    # Cheap first: a document with few brackets cannot be deep.
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    depth = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > MAX_DEPTH:
            raise MalformedInput(f"The JSON is nested more than {MAX_DEPTH} levels deep.")


def _refuse_constant(name: str) -> None:
    raise MalformedInput(f"{name} is not valid JSON.")


def json_decode(text: str) -> Any:
    """Return the decoded JSON document; raise MalformedInput or InputRefused."""
    _depth_check(text)
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except MalformedInput:
        raise
    except (ValueError, RecursionError) as exc:
        raise MalformedInput(f"The body is not valid JSON ({exc}).") from None
    value_check(document)
    return document


# -- the WebSocket edge ---------------------------------------------------------------------


@dataclass(frozen=True)
class DecodedFrame:
    """A client frame: its JSON object, or the error frame's code and detail."""

    content: dict | None
    ref: str | int | None = None
    code: str = ""
    detail: str = ""


def _frame_ref(document: Any) -> str | int | None:
    ref = document.get("ref") if isinstance(document, dict) else None
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        return None
    if isinstance(ref, str) and text_problem(ref) is not None:
        return None
    return ref


def frame_decode(text: str) -> DecodedFrame:
    """Decode a client's text frame; on a refusal `content` is None and `code` says why."""
    try:
        _depth_check(text)
        document = json.loads(text, parse_constant=_refuse_constant)
    except MalformedInput as exc:
        return DecodedFrame(None, code="malformed_frame", detail=str(exc))
    except (ValueError, RecursionError):
        return DecodedFrame(None, code="malformed_frame", detail="The frame is not valid JSON.")
    if not isinstance(document, dict):
        return DecodedFrame(
            None, code="malformed_frame", detail="A frame is a JSON object with a type."
        )
    ref = _frame_ref(document)
    try:
        value_check(document)
    except InputRefused as exc:
        return DecodedFrame(None, ref=ref, code="invalid", detail=str(exc))
    return DecodedFrame(document, ref=ref)


# -- the HTTP edge --------------------------------------------------------------------------


def request_object(request, *, fields: frozenset[str] | set[str] | None = None) -> dict:
    """Return a REST request's body, which must be a JSON object (a missing body, a list or
    a string is refused) holding only `fields` when they are given."""
    from directory.exceptions import InvalidInput

    if request.stream is None or not isinstance(request.data, dict):
        raise InvalidInput(_("The request body must be a JSON object."))
    if fields is not None:
        unknown = sorted(set(request.data) - set(fields))
        if unknown:
            raise InvalidInput(
                _("unknown field %(unknown)s; the fields are %(fields)s.")
                % {"unknown": ", ".join(unknown), "fields": ", ".join(sorted(fields))}
            )
    return request.data


class ScreenedJSONParser(JSONParser):
    """DRF's JSON parser with the depth limit and the NUL / surrogate refusal."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(
                _("The body is not valid %(encoding)s text (%(exc)s).")
                % {"encoding": encoding, "exc": exc}
            ) from None
        try:
            return json_decode(text)
        except MalformedInput as exc:
            raise ParseError(str(exc)) from None
        except InputRefused as exc:
            raise ValidationError({exc.field: [exc.reason]}) from None


class InputScreeningMiddleware:
    """Refuse a URL whose path or query string holds what no field may hold (400)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            if request.path_info.startswith("/api/"):
                return JsonResponse({"error": {"code": "invalid", "detail": refusal}}, status=400)
            return HttpResponse(refusal, status=400, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> str | None:
        problem = text_problem(request.path_info)
        if problem is not None:
            return f"The URL path {problem}"
        for name, values in request.GET.lists():
            problem = text_problem(name)
            if problem is not None:
                return f"A query parameter name {problem}"
            for value in values:
                problem = text_problem(value)
                if problem is not None:
                    return f"{name}: {problem}"
        return None


CLOSE_BAD_INPUT = 4400


class WebSocketInputScreening:
    """Refuse a WebSocket whose URL path or query string holds what no field may hold.

    The handshake is declined (close code 4400) before authentication or any consumer runs.
    """

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        texts = [scope.get("path", ""), *(part for pair in query for part in pair)]
        if all(text_problem(text) is None for text in texts):
            return await self.inner(scope, receive, send)
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": CLOSE_BAD_INPUT})
        return None
