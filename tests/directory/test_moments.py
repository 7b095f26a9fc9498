"""Reading moments from request text (directory.moments)."""

from datetime import UTC, datetime, timedelta

import pytest

from directory.exceptions import InvalidInput
from directory.moments import moment_parse, range_parse


@pytest.mark.parametrize("value", [None, ""])
def test_nothing_given_is_none(value):
    assert moment_parse(value, field="start") is None


def test_a_bare_end_date_includes_that_whole_utc_day_as_an_exclusive_end():
    assert moment_parse("2026-11-02", field="start") == datetime(2026, 11, 2, tzinfo=UTC)
    # Ends are exclusive everywhere, so the whole of 2 November is [2 Nov 00:00, 3 Nov 00:00).
    assert moment_parse("2026-11-02", field="end", is_end=True) == datetime(2026, 11, 3, tzinfo=UTC)


def test_a_range_of_one_bare_date_is_that_day_and_an_end_not_after_the_start_is_refused():
    assert range_parse("2026-11-02", "2026-11-02") == (
        datetime(2026, 11, 2, tzinfo=UTC),
        datetime(2026, 11, 3, tzinfo=UTC),
    )
    with pytest.raises(InvalidInput, match="start must be before end"):
        range_parse("2026-11-02T09:00:00Z", "2026-11-02T09:00:00Z")


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
        ("yesterday", "start is not a valid date: 'yesterday'"),
        ("2026-13-40", "start is not a valid date: '2026-13-40'"),
        (20261102, "start must be an ISO 8601 date or date-time text."),
    ],
)
def test_anything_else_is_refused_naming_the_field(value, detail):
    with pytest.raises(InvalidInput) as refused:
        moment_parse(value, field="start")
    assert refused.value.detail.startswith(detail)
