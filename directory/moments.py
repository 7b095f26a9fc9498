"""Reading a moment from request text: ISO 8601 dates and date-times, as aware datetimes.

The one rule for every API that takes a time range (archive search and exports, legal holds,
the audit trail, the presence log): a range is [start, end), start included and end left out,
and a bare date as the end means that whole day, inclusive: it is read as the first instant
of the next day. So `start=2026-11-02&end=2026-11-02` is all of 2 November (UTC), and
`end=2026-11-02T09:00:00Z` stops just before nine. A time without an offset is UTC.
"""

from datetime import UTC, datetime, time, timedelta

from django.utils.dateparse import parse_date, parse_datetime

from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _

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

    A bare date is the first instant of that day in UTC, or, as an end (is_end), the first
    instant of the next day, since ends are exclusive. A given offset is kept.
    """
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidInput(
            _("%(field)s must be an ISO 8601 date or date-time text.") % {"field": field}
        )
    try:
        day = parse_date(value)  # a bare date first: Python also reads it as a datetime
        moment = None if day else parse_datetime(value)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise InvalidInput(
            _(
                "%(field)s is not a valid date: %(value)r; use ISO 8601, e.g. "
                "2026-11-02 or 2026-11-02T09:00:00Z."
            )
            % {"field": field, "value": value}
        )
    if moment is None:
        return datetime.combine(day + timedelta(days=1 if is_end else 0), time.min, tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def range_parse(start, end, *, prefix: str = "") -> tuple[datetime | None, datetime | None]:
    """Return the [start, end) range of two texts; refuse an end that is not after the start."""
    start_at = moment_parse(start, field=f"{prefix}start")
    end_at = moment_parse(end, field=f"{prefix}end", is_end=True)
    if start_at and end_at and start_at >= end_at:
        raise InvalidInput(_("%(prefix)sstart must be before %(prefix)send.") % {"prefix": prefix})
    return start_at, end_at
