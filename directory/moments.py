"""Reading a moment from request text: ISO 8601 dates and date-times, as aware datetimes."""

from datetime import UTC, datetime, time

from django.utils.dateparse import parse_date, parse_datetime

from directory.exceptions import InvalidInput

# The OpenAPI schema of a moment a request carries: what moment_parse reads.
MOMENT_SCHEMA = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
    "description": "An ISO 8601 date (2026-11-02) or date-time (2026-11-02T09:00:00Z).",
}
# An optional moment: empty text means none.
MOMENT_OR_EMPTY_SCHEMA = {
    "anyOf": [*MOMENT_SCHEMA["anyOf"], {"type": "string", "maxLength": 0}],
    "description": MOMENT_SCHEMA["description"] + " Empty: none.",
}


def moment_parse(value, *, field: str, is_end: bool = False) -> datetime | None:
    """Return an aware datetime from ISO 8601 text (a date, or a date and time); None if empty.

    A bare date is the first instant of that day in UTC, or its last one when is_end; a time
    without an offset is UTC. A given offset is kept.
    """
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be an ISO 8601 date or date-time text.")
    try:
        day = parse_date(value)  # a bare date first: Python also reads it as a datetime
        moment = None if day else parse_datetime(value)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise InvalidInput(
            f"{field} {value!r} is not an ISO 8601 date or time "
            "(2026-11-02 or 2026-11-02T09:00:00Z)."
        )
    if moment is None:
        return datetime.combine(day, time.max if is_end else time.min, tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
