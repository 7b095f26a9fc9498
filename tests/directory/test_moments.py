"""Reading moments from request text (directory.moments)."""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from directory.exceptions import InvalidInput
from directory.moments import moment_parse


@pytest.mark.parametrize("value", [None, ""])
def test_nothing_given_is_none(value):
    assert moment_parse(value, field="start") is None


def test_a_bare_date_is_the_first_or_last_instant_of_that_utc_day():
    assert moment_parse("2026-11-02", field="start") == datetime(2026, 11, 2, tzinfo=UTC)
    assert moment_parse("2026-11-02", field="end", is_end=True) == datetime.combine(
        date(2026, 11, 2), time.max, tzinfo=UTC
    )


def test_a_time_without_an_offset_is_utc_and_a_given_offset_is_kept():
    assert moment_parse("2026-11-02T09:30:00", field="start") == datetime(
        2026, 11, 2, 9, 30, tzinfo=UTC
    )
    seen = moment_parse("2026-11-02T09:30:00+02:00", field="start")
    assert seen.utcoffset() == timedelta(hours=2)
    assert seen == datetime(2026, 11, 2, 7, 30, tzinfo=UTC)
    assert moment_parse("2026-11-02T09:30:00Z", field="start").utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("yesterday", "start 'yesterday' is not an ISO 8601 date or time"),
        ("2026-13-40", "start '2026-13-40' is not an ISO 8601 date or time"),
        (20261102, "start must be an ISO 8601 date or date-time text."),
    ],
)
def test_anything_else_is_refused_naming_the_field(value, detail):
    with pytest.raises(InvalidInput) as refused:
        moment_parse(value, field="start")
    assert refused.value.detail.startswith(detail)
