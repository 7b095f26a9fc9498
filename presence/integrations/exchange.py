"""Exchange free/busy through EWS GetUserAvailability (exchangelib), for calendar presence.

Off unless settings.PARLEY_EXCHANGE_EWS_URL is set. A service account allowed to read
free/busy asks for the "Detailed" view: start, end and busy type of each event, and the subject
and location that Lync showed its workgroup contacts (DESIGN.md section 4). Exchange gives the
details only where the account holds "Limited Details" (or more) on the calendar, and never
those of a private meeting; without them an event comes back as free/busy alone. With
PARLEY_EXCHANGE_MEETING_DETAILS off, the "FreeBusy" view is asked: no subject leaves Exchange.

Requests name Exchange 2016 (API version "Exchange2016", also understood by Exchange 2019),
so exchangelib sends no version-guessing or autodiscover requests: a call costs exactly two
round trips, GetServerTimeZones (for the time zone of the request) and GetUserAvailability.
exchangelib is imported on first use: it costs about 0.3 s at start-up in every process,
and the feature is off in most of them.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from exchangelib.protocol import Protocol

log = logging.getLogger(__name__)

# Exchange refuses more than 100 mailboxes in one GetUserAvailability request.
MAX_MAILBOXES = 100


@dataclass(frozen=True)
class CalendarEvent:
    """One block of a person's calendar; busy_type is Free, Tentative, Busy, OOF,
    WorkingElsewhere or NoData, as Exchange names them."""

    start: datetime
    end: datetime
    busy_type: str
    subject: str = ""
    location: str = ""
    is_private: bool = False


class ExchangeUnavailableError(Exception):
    """Exchange did not answer the request (unreachable, refused, an error, malformed)."""


def is_configured() -> bool:
    """Return whether an EWS endpoint is set (the feature is off without one)."""
    return bool(settings.PARLEY_EXCHANGE_EWS_URL)


def _protocol() -> "Protocol":
    from exchangelib import BASIC, Build, Configuration, Credentials, Version
    from exchangelib.protocol import Protocol

    # exchangelib caches one Protocol (and its HTTP session pool) per endpoint and credentials.
    config = Configuration(
        service_endpoint=settings.PARLEY_EXCHANGE_EWS_URL,
        credentials=Credentials(
            username=settings.PARLEY_EXCHANGE_USERNAME,
            password=settings.PARLEY_EXCHANGE_PASSWORD,
        ),
        auth_type=BASIC,
        version=Version(build=Build(15, 1)),
    )
    return Protocol(config=config)


def _aware_utc(value: datetime) -> datetime:
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def _event(event) -> CalendarEvent:
    details = event.details
    is_private = bool(details and details.is_private)
    return CalendarEvent(
        start=_aware_utc(event.start),
        end=_aware_utc(event.end),
        busy_type=event.busy_type,
        # A private meeting's subject and place stay private, whatever the server sent.
        subject="" if is_private or not details else (details.subject or "")[:255],
        location="" if is_private or not details else (details.location or "")[:255],
        is_private=is_private,
    )


def free_busy_list(
    *, emails: Sequence[str], start: datetime, end: datetime
) -> dict[str, list[CalendarEvent]]:
    """Return the calendar events of each mailbox between start and end (aware datetimes).

    Mailboxes Exchange answers with an error of their own (no such recipient, no free/busy
    permission) are logged and left out of the result; a failure of the whole request raises
    ExchangeUnavailableError.
    """
    if not is_configured():
        raise ExchangeUnavailableError("PARLEY_EXCHANGE_EWS_URL is not set.")
    if len(emails) > MAX_MAILBOXES:
        raise ValueError(f"Ask for at most {MAX_MAILBOXES} mailboxes at a time.")
    if not emails:
        return {}
    import requests
    from exchangelib import EWSDateTime, EWSTimeZone
    from exchangelib.errors import EWSError

    utc = EWSTimeZone("UTC")
    try:
        views = list(
            _protocol().get_free_busy_info(
                accounts=[(email, "Required", False) for email in emails],
                start=EWSDateTime.from_datetime(start).astimezone(utc),
                end=EWSDateTime.from_datetime(end).astimezone(utc),
                requested_view=(
                    "Detailed" if settings.PARLEY_EXCHANGE_MEETING_DETAILS else "FreeBusy"
                ),
            )
        )
    except (EWSError, requests.RequestException, OSError, ValueError) as error:
        raise ExchangeUnavailableError(f"{type(error).__name__}: {error}") from error
    if len(views) != len(emails):
        raise ExchangeUnavailableError(
            f"Exchange answered {len(views)} mailboxes for {len(emails)} asked."
        )
    result: dict[str, list[CalendarEvent]] = {}
    for email, view in zip(emails, views, strict=True):
        if isinstance(view, Exception):
            log.warning(
                "Exchange has no free/busy for %s: %s: %s", email, type(view).__name__, view
            )
            continue
        result[email] = [_event(event) for event in view.calendar_events or []]
    return result
