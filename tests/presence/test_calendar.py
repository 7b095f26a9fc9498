"""Calendar presence against a wire-level Exchange: a local HTTP server answering the SOAP
requests exchangelib really sends (GetServerTimeZones, then GetUserAvailability) with the
responses Exchange 2016 gives, so the real client library is exercised end to end."""

import base64
import http.server
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from exchangelib.protocol import close_connections

from presence import realtime, selectors, services, tasks
from presence.models import PresenceLog, PresenceState

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MESSAGES = "http://schemas.microsoft.com/exchange/services/2006/messages"
TYPES = "http://schemas.microsoft.com/exchange/services/2006/types"
ERRORS = "http://schemas.microsoft.com/exchange/services/2006/errors"
SERVICE_USER, SERVICE_PASSWORD = "CONTOSO\\svc-parley", "free/busy reader"
ALICE_MAIL, BOB_MAIL = "alice@contoso.test", "bob@contoso.test"

# Exchange 2016 CU5+ announces itself like this in every SOAP header.
HEADER = (
    '<s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" '
    f'MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="{TYPES}" xmlns="{TYPES}" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></s:Header>'
)
# GetServerTimeZones with full data for the zone exchangelib asks in (UTC): one period, no DST.
UTC_DEFINITION = (
    '<t:TimeZoneDefinition Name="(UTC) Coordinated Universal Time" Id="UTC">'
    "<t:Periods>"
    '<t:Period Bias="PT0M" Name="Standard" Id="trule:Microsoft/Registry/UTC/1-Standard"/>'
    "</t:Periods>"
    '<t:TransitionsGroups><t:TransitionsGroup Id="0"><t:Transition>'
    '<t:To Kind="Period">trule:Microsoft/Registry/UTC/1-Standard</t:To>'
    "</t:Transition></t:TransitionsGroup></t:TransitionsGroups>"
    '<t:Transitions><t:Transition><t:To Kind="Group">0</t:To></t:Transition></t:Transitions>'
    "</t:TimeZoneDefinition>"
)
# The mailbox owners work in Paris: Exchange adds their working hours to every FreeBusyView.
WORKING_HOURS = (
    f'<WorkingHours xmlns="{TYPES}"><TimeZone><Bias>-60</Bias>'
    "<StandardTime><Bias>0</Bias><Time>03:00:00</Time><DayOrder>5</DayOrder><Month>10</Month>"
    "<DayOfWeek>Sunday</DayOfWeek></StandardTime>"
    "<DaylightTime><Bias>-60</Bias><Time>02:00:00</Time><DayOrder>5</DayOrder><Month>3</Month>"
    "<DayOfWeek>Sunday</DayOfWeek></DaylightTime></TimeZone>"
    "<WorkingPeriodArray><WorkingPeriod><DayOfWeek>Monday Tuesday Wednesday Thursday Friday"
    "</DayOfWeek><StartTimeInMinutes>480</StartTimeInMinutes>"
    "<EndTimeInMinutes>1080</EndTimeInMinutes></WorkingPeriod></WorkingPeriodArray>"
    "</WorkingHours>"
)
RECIPIENT_NOT_FOUND = (
    '<ResponseMessage ResponseClass="Error">'
    "<MessageText>Unable to resolve e-mail address &lt;&gt;SMTP:{address} to an Active "
    "Directory object.</MessageText>"
    "<ResponseCode>ErrorMailRecipientNotFound</ResponseCode>"
    "<DescriptiveLinkKey>0</DescriptiveLinkKey><MessageXml>"
    f'<ExceptionType xmlns="{ERRORS}">Microsoft.Exchange.InfoWorker.Common.Availability.'
    "MailRecipientNotFoundException</ExceptionType>"
    f'<ExceptionCode xmlns="{ERRORS}">5009</ExceptionCode>'
    f'<ExceptionServerName xmlns="{ERRORS}">EX16-01</ExceptionServerName>'
    f'<ExceptionMessage xmlns="{ERRORS}">Unable to resolve e-mail address &lt;&gt;SMTP:'
    "{address} to an Active Directory object.</ExceptionMessage>"
    "</MessageXml></ResponseMessage>"
    f'<FreeBusyView><FreeBusyViewType xmlns="{TYPES}">None</FreeBusyViewType></FreeBusyView>'
)
INTERNAL_ERROR_FAULT = (
    "<s:Fault>"
    f'<faultcode xmlns:a="{TYPES}">a:ErrorInternalServerError</faultcode>'
    '<faultstring xml:lang="en-US">An internal server error occurred. The operation failed.'
    "</faultstring><detail>"
    f'<e:ResponseCode xmlns:e="{ERRORS}">ErrorInternalServerError</e:ResponseCode>'
    f'<e:Message xmlns:e="{ERRORS}">An internal server error occurred. The operation failed.'
    "</e:Message></detail></s:Fault>"
)
IIS_ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>Runtime Error</title></head>"
    "<body><h1>Server Error in '/EWS' Application.</h1></body></html>"
)


def envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}">{HEADER}'
        '<s:Body xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:xsd="http://www.w3.org/2001/XMLSchema">{body}</s:Body></s:Envelope>'
    ).encode()


def event_details(subject: str = "", location: str = "", is_private: bool = False) -> str:
    """CalendarEventDetails as Exchange writes them in the Detailed view: a private meeting
    keeps its subject and location to itself."""
    shown = "" if is_private else f"<Subject>{subject}</Subject><Location>{location}</Location>"
    return (
        "<CalendarEventDetails><ID>0000000010</ID>"
        f"{shown}<IsMeeting>true</IsMeeting><IsRecurring>false</IsRecurring>"
        "<IsException>false</IsException><IsReminderSet>true</IsReminderSet>"
        f"<IsPrivate>{str(is_private).lower()}</IsPrivate></CalendarEventDetails>"
    )


def ews_time(value: datetime) -> str:
    """Exchange writes times in the request's time zone (UTC here) without an offset."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class FakeExchange:
    """What the test puts in each mailbox and what the client asked, at the wire."""

    def __init__(self) -> None:
        self.calendars: dict[str, list[tuple[datetime, datetime, str]]] = {}
        self.unknown: set[str] = set()  # answered with ErrorMailRecipientNotFound
        self.failure: str = ""  # "soap-fault" or "html": every request gets an HTTP 500
        self.operations: list[str] = []
        self.availability_requests: list[dict] = []
        self.unanswered: list[str] = []
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_port}/EWS/Exchange.asmx"

    def _handler(self):
        fake = self
        expected_auth = "Basic " + base64.b64encode(
            f"{SERVICE_USER}:{SERVICE_PASSWORD}".encode()
        ).decode("ascii")

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path != "/EWS/Exchange.asmx":
                    fake.unanswered.append(f"POST {self.path}")
                    return self._send(404, b"", "text/html")
                if self.headers.get("Authorization") != expected_auth:
                    fake.unanswered.append("unauthenticated request")
                    return self._send(401, b"", "text/html", {"WWW-Authenticate": "Basic"})
                operation = ET.fromstring(body).find(f"{{{SOAP}}}Body")[0]  # noqa: S314
                name = operation.tag.split("}")[1]
                fake.operations.append(name)
                if fake.failure == "soap-fault":
                    return self._send(500, envelope(INTERNAL_ERROR_FAULT))
                if fake.failure == "html":
                    return self._send(500, IIS_ERROR_PAGE.encode(), "text/html")
                if name == "GetServerTimeZones":
                    return self._send(200, fake.time_zones(operation))
                if name == "GetUserAvailabilityRequest":
                    return self._send(200, fake.availability(operation))
                fake.unanswered.append(name)
                return self._send(500, envelope(INTERNAL_ERROR_FAULT))

            def _send(self, status, payload, content_type="text/xml; charset=utf-8", extra=()):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for header, value in dict(extra).items():
                    self.send_header(header, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    def time_zones(self, request: ET.Element) -> bytes:
        ids = [e.text for e in request.iter(f"{{{TYPES}}}Id")]
        if ids != ["UTC"] or request.get("ReturnFullTimeZoneData") != "true":
            self.unanswered.append(f"GetServerTimeZones {ids}")
        return envelope(
            f'<m:GetServerTimeZonesResponse xmlns:m="{MESSAGES}" xmlns:t="{TYPES}">'
            "<m:ResponseMessages>"
            '<m:GetServerTimeZonesResponseMessage ResponseClass="Success">'
            "<m:ResponseCode>NoError</m:ResponseCode>"
            f"<m:TimeZoneDefinitions>{UTC_DEFINITION}</m:TimeZoneDefinitions>"
            "</m:GetServerTimeZonesResponseMessage></m:ResponseMessages>"
            "</m:GetServerTimeZonesResponse>"
        )

    def availability(self, request: ET.Element) -> bytes:
        addresses = [e.text for e in request.iter(f"{{{TYPES}}}Address")]
        window = request.find(f".//{{{TYPES}}}TimeWindow")
        start, end = (
            datetime.fromisoformat(window.find(f"{{{TYPES}}}{name}").text).astimezone(UTC)
            for name in ("StartTime", "EndTime")
        )
        self.availability_requests.append(
            {
                "mailboxes": addresses,
                "view": request.find(f".//{{{TYPES}}}RequestedView").text,
                "bias": request.find(f"{{{TYPES}}}TimeZone/{{{TYPES}}}Bias").text,
                "start": start,
                "end": end,
            }
        )
        answers = []
        for address in addresses:
            if address in self.unknown:
                answers.append(RECIPIENT_NOT_FOUND.format(address=address))
                continue
            view = request.find(f".//{{{TYPES}}}RequestedView").text
            events = "".join(
                f"<CalendarEvent><StartTime>{ews_time(first)}</StartTime>"
                f"<EndTime>{ews_time(last)}</EndTime><BusyType>{busy_type}</BusyType>"
                + (event_details(*details) if view == "Detailed" else "")
                + "</CalendarEvent>"
                for first, last, busy_type, *details in self.calendars.get(address, [])
                if first < end and last > start  # Exchange returns what overlaps the window
            )
            answers.append(
                '<ResponseMessage ResponseClass="Success"><ResponseCode>NoError</ResponseCode>'
                "</ResponseMessage><FreeBusyView>"
                f'<FreeBusyViewType xmlns="{TYPES}">{view}</FreeBusyViewType>'
                + (f'<CalendarEventArray xmlns="{TYPES}">{events}</CalendarEventArray>')
                + f"{WORKING_HOURS}</FreeBusyView>"
            )
        return envelope(
            f'<GetUserAvailabilityResponse xmlns="{MESSAGES}"><FreeBusyResponseArray>'
            + "".join(f"<FreeBusyResponse>{answer}</FreeBusyResponse>" for answer in answers)
            + "</FreeBusyResponseArray></GetUserAvailabilityResponse>"
        )


@pytest.fixture
def exchange(settings):
    fake = FakeExchange()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.PARLEY_EXCHANGE_EWS_URL = fake.url
    settings.PARLEY_EXCHANGE_USERNAME = SERVICE_USER
    settings.PARLEY_EXCHANGE_PASSWORD = SERVICE_PASSWORD
    yield fake
    close_connections()  # exchangelib keeps a session pool per endpoint
    fake.server.shutdown()
    fake.server.server_close()
    thread.join(timeout=5)
    assert fake.unanswered == []


@pytest.fixture
def alice(make_person):
    return make_person("alice", display_name="Alice Martin", email=ALICE_MAIL)


@pytest.fixture
def bob(make_person):
    return make_person("bob", display_name="Bob Chen", email=BOB_MAIL)


@pytest.fixture
def published(monkeypatch):
    """Record every presence.update announced (after commit) instead of sending it."""
    frames: list[dict] = []

    def record(*, person_id, projections, own):
        frames.append({"person_id": person_id, "own": own, **projections})

    monkeypatch.setattr(realtime, "presence_changed", record)
    return frames


@pytest.fixture
def refresh(django_capture_on_commit_callbacks):
    """Run the service as the task does, with its after-commit announcements."""

    def run(**arguments) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return services.calendar_presence_refresh(**arguments)

    return run


def now_whole_second() -> datetime:
    # The wire carries whole seconds; keeping the test's clock on them makes ends comparable.
    return timezone.now().replace(microsecond=0)


def calendar_state(person) -> tuple[str, datetime | None]:
    state = PresenceState.objects.get(person=person)
    return state.calendar_activity, state.calendar_until


def calendar_log(person) -> list[tuple[str, str]]:
    return list(
        PresenceLog.objects.filter(person=person, reason="calendar")
        .order_by("id")
        .values_list("from_availability", "to_availability")
    )


def shown(person, watcher) -> tuple[str, str | None]:
    view = selectors.presence_for_watcher(person=person, watcher=watcher)
    return view["availability"], view.get("activity")


def test_busy_event_now_shows_busy_in_a_meeting_and_announces_it(
    exchange, refresh, alice, bob, published
):
    services.endpoint_open(person=alice, device="laptop")
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=30), now + timedelta(minutes=30), "Busy"),
        (now + timedelta(hours=3), now + timedelta(hours=4), "Busy"),
    ]

    changed = refresh(now=now)

    assert changed == 1
    assert shown(alice, bob) == ("busy", "in-a-meeting")
    assert calendar_state(alice) == ("in-a-meeting", now + timedelta(minutes=30))
    assert calendar_log(alice) == [("available", "busy")]
    assert len(published) == 1
    assert published[0]["person_id"] == alice.pk
    assert published[0]["default-colleagues"]["availability"] == "busy"
    assert published[0]["default-colleagues"]["activity"] == "in-a-meeting"
    assert published[0]["own"]["activity"] == "in-a-meeting"
    assert exchange.operations == ["GetServerTimeZones", "GetUserAvailabilityRequest"]
    assert exchange.availability_requests == [
        {
            "mailboxes": [ALICE_MAIL],
            "view": "Detailed",  # with the subject and place, for the workgroup level
            "bias": "0",
            "start": now,
            "end": now + timedelta(days=1),
        }
    ]


def test_out_of_office_event_shows_out_of_office_and_keeps_availability(
    exchange, refresh, alice, bob, published
):
    services.endpoint_open(person=alice)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(days=1), now + timedelta(days=2), "OOF"),
        (now - timedelta(minutes=10), now + timedelta(minutes=20), "Busy"),
    ]

    changed = refresh(now=now)

    assert changed == 1
    assert shown(alice, bob) == ("available", "out-of-office")
    assert calendar_state(alice) == ("out-of-office", now + timedelta(days=2))
    assert calendar_log(alice) == []  # availability did not change, only the activity
    assert [frame["default-colleagues"]["activity"] for frame in published] == ["out-of-office"]


def test_no_event_now_clears_the_calendar_activity(exchange, refresh, alice, bob, published):
    services.endpoint_open(person=alice)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=5), now + timedelta(hours=1), "Busy")
    ]
    refresh(now=now)
    exchange.calendars[ALICE_MAIL] = [
        (now + timedelta(hours=2), now + timedelta(hours=3), "Busy"),  # later today
        (now - timedelta(hours=1), now + timedelta(hours=1), "Tentative"),
        (now - timedelta(hours=1), now + timedelta(hours=1), "Free"),
    ]

    changed = refresh(now=now)

    assert changed == 1
    assert shown(alice, bob) == ("available", None)
    assert calendar_state(alice) == ("", None)
    assert calendar_log(alice) == [("available", "busy"), ("busy", "available")]
    assert [frame["default-colleagues"].get("activity") for frame in published] == [
        "in-a-meeting",
        None,
    ]


def test_back_to_back_meetings_are_one_span(exchange, refresh, alice):
    services.endpoint_open(person=alice)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=30), now + timedelta(minutes=30), "Busy"),
        (now + timedelta(minutes=30), now + timedelta(minutes=90), "Busy"),
        (now + timedelta(minutes=95), now + timedelta(minutes=120), "Busy"),  # after a break
    ]

    refresh(now=now)

    assert calendar_state(alice) == ("in-a-meeting", now + timedelta(minutes=90))


def test_a_refresh_with_nothing_new_announces_nothing(exchange, refresh, alice, published):
    services.endpoint_open(person=alice)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=5), now + timedelta(hours=1), "Busy")
    ]
    refresh(now=now)

    changed = refresh(now=now + timedelta(seconds=10))

    assert changed == 0
    assert len(exchange.availability_requests) == 2
    assert len(published) == 1
    assert calendar_log(alice) == [("available", "busy")]


def test_a_manual_availability_wins_over_the_calendar(exchange, refresh, alice, bob, published):
    services.endpoint_open(person=alice)
    services.presence_set(person=alice, availability="do-not-disturb")
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=5), now + timedelta(hours=1), "Busy")
    ]

    refresh(now=now)

    assert shown(alice, bob) == ("do-not-disturb", "in-a-meeting")
    assert calendar_log(alice) == []


def test_a_manual_activity_wins_over_the_calendar(exchange, refresh, alice, bob):
    services.endpoint_open(person=alice)
    services.presence_set(person=alice, activity="in-a-call")
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [(now - timedelta(days=1), now + timedelta(days=1), "OOF")]

    refresh(now=now)

    assert shown(alice, bob) == ("available", "in-a-call")
    assert calendar_state(alice) == ("out-of-office", now + timedelta(days=1))


def test_a_calendar_activity_whose_event_ended_is_not_shown(exchange, refresh, alice, bob):
    services.endpoint_open(person=alice)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [(now - timedelta(hours=1), now, "Busy")]
    refresh(now=now - timedelta(minutes=1))

    # The meeting ended before the next poll: nobody sees it any longer.
    assert calendar_state(alice) == ("in-a-meeting", now)
    assert shown(alice, bob) == ("available", None)


def test_only_connected_internal_people_with_an_address_are_asked(exchange, refresh, make_person):
    asked = make_person("dana", email="dana@contoso.test")
    make_person("erin", email="erin@contoso.test")  # not connected
    no_address = make_person("frank")
    external = make_person("gus", email="gus@fabrikam.test", is_external=True)
    for person in (asked, no_address, external):
        services.endpoint_open(person=person)

    refresh()

    assert [r["mailboxes"] for r in exchange.availability_requests] == [["dana@contoso.test"]]


@pytest.mark.parametrize("failure", ["soap-fault", "html"])
def test_exchange_failing_with_500_leaves_state_unchanged(
    exchange, refresh, alice, bob, failure, caplog
):
    services.endpoint_open(person=alice)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=5), now + timedelta(hours=1), "Busy")
    ]
    refresh(now=now)
    exchange.calendars[ALICE_MAIL] = []
    exchange.failure = failure
    exchange.operations.clear()

    changed = refresh(now=now + timedelta(seconds=10))

    assert changed == 0
    assert exchange.operations == ["GetServerTimeZones"]  # the first request failed: no more
    assert calendar_state(alice) == ("in-a-meeting", now + timedelta(hours=1))
    assert shown(alice, bob) == ("busy", "in-a-meeting")
    assert calendar_log(alice) == [("available", "busy")]
    warnings = [r.getMessage() for r in caplog.records if r.name == "presence.services"]
    assert len(warnings) == 1
    assert warnings[0].startswith("Calendar presence of 1 people left as it was: ")


def test_exchange_failing_with_500_through_the_task_raises_nothing(
    exchange, alice, published, django_capture_on_commit_callbacks
):
    services.endpoint_open(person=alice)
    exchange.failure = "soap-fault"

    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.calendar_presence_refresh.apply()

    assert result.successful()
    assert result.get() == 0
    assert published == []
    assert PresenceState.objects.get(person=alice).calendar_activity == ""


def test_an_unknown_mailbox_is_left_unchanged_and_the_others_refreshed(
    exchange, refresh, alice, bob, published, caplog
):
    services.endpoint_open(person=alice)
    services.endpoint_open(person=bob)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=5), now + timedelta(hours=1), "Busy")
    ]
    refresh(now=now)
    exchange.unknown.add(ALICE_MAIL)  # alice's mailbox was removed, bob went into a meeting
    exchange.calendars[BOB_MAIL] = [(now, now + timedelta(minutes=45), "Busy")]

    changed = refresh(now=now + timedelta(seconds=10))

    assert changed == 1
    assert exchange.availability_requests[-1]["mailboxes"] == [ALICE_MAIL, BOB_MAIL]
    assert calendar_state(alice) == ("in-a-meeting", now + timedelta(hours=1))
    assert shown(alice, bob) == ("busy", "in-a-meeting")
    assert calendar_state(bob) == ("in-a-meeting", now + timedelta(minutes=45))
    assert [frame["person_id"] for frame in published] == [alice.pk, bob.pk]
    warnings = [
        r.getMessage() for r in caplog.records if r.name == "presence.integrations.exchange"
    ]
    assert warnings == [
        f"Exchange has no free/busy for {ALICE_MAIL}: ErrorMailRecipientNotFound: Unable to "
        f"resolve e-mail address <>SMTP:{ALICE_MAIL} to an Active Directory object."
    ]


MEETING = {"meeting_subject": "Budget review", "meeting_place": "Room 4.12"}


@pytest.fixture
def watchers(alice, make_person):
    """One watcher at each level alice can grant, by the level's name."""
    people = {
        "friends_family": make_person("carol"),
        "workgroup": make_person("dana"),
        "colleagues": make_person("erin"),  # alice chose nothing: the default for colleagues
        "external": make_person("gus", email="gus@fabrikam.test", is_external=True),
        "blocked": make_person("hal"),
    }
    for level, watcher in people.items():
        if level not in ("colleagues", "external"):
            services.contact_add(owner=alice, username=watcher.username, relationship=level)
    return people


def meeting_seen(person, watcher) -> dict:
    view = selectors.presence_for_watcher(person=person, watcher=watcher)
    return {k: view[k] for k in ("meeting_subject", "meeting_place") if k in view}


def test_meeting_subject_and_place_show_at_the_workgroup_level_only(
    exchange, refresh, alice, watchers, published, api_client_for
):
    services.endpoint_open(person=alice)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=30), now + timedelta(minutes=30), "Busy", *MEETING.values())
    ]

    refresh(now=now)

    assert {level: meeting_seen(alice, w) for level, w in watchers.items()} == {
        "friends_family": {},
        "workgroup": MEETING,
        "colleagues": {},
        "external": {},
        "blocked": {},
    }
    assert meeting_seen(alice, alice) == MEETING  # the person sees their own
    rest = api_client_for(watchers["workgroup"]).get("/api/v1/presence/alice/").json()
    assert (rest["activity"], rest["meeting_subject"], rest["meeting_place"]) == (
        "in-a-meeting",
        "Budget review",
        "Room 4.12",
    )
    colleague = api_client_for(watchers["colleagues"]).get("/api/v1/presence/alice/").json()
    assert colleague["activity"] == "in-a-meeting"
    assert "meeting_subject" not in colleague
    assert "meeting_place" not in colleague
    # The frames: one per watch key, the subject only in the workgroup's and alice's own.
    [frame] = published
    assert {
        key for key, view in frame.items() if isinstance(view, dict) and "meeting_subject" in view
    } == {
        "workgroup",
        "own",
    }


def test_a_private_meeting_keeps_its_subject_and_place_from_everyone(
    exchange, refresh, alice, watchers
):
    services.endpoint_open(person=alice)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=5), now + timedelta(hours=1), "Busy", "Offer", "HR", True)
    ]

    refresh(now=now)

    assert shown(alice, watchers["workgroup"]) == ("busy", "in-a-meeting")
    assert meeting_seen(alice, watchers["workgroup"]) == {}
    assert PresenceState.objects.get(person=alice).calendar_subject == ""


def test_the_next_meeting_replaces_the_subject_and_the_end_clears_it(
    exchange, refresh, alice, watchers, published, settings
):
    # Only connected people's calendars are read: the endpoint outlives the test's clock.
    settings.PARLEY_ENDPOINT_EXPIRY_SECONDS = 4 * 3600
    services.endpoint_open(person=alice)
    now = now_whole_second()
    switch, end = now + timedelta(minutes=30), now + timedelta(minutes=60)
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=30), switch, "Busy", *MEETING.values()),
        (switch, end, "Busy", "1:1 with Bob", ""),
    ]
    refresh(now=now)

    refresh(now=switch)

    assert meeting_seen(alice, watchers["workgroup"]) == {"meeting_subject": "1:1 with Bob"}
    assert len(published) == 2

    refresh(now=end)

    assert meeting_seen(alice, watchers["workgroup"]) == {}
    assert calendar_state(alice) == ("", None)


def test_without_meeting_details_only_free_busy_is_asked(
    exchange, refresh, alice, watchers, settings
):
    settings.PARLEY_EXCHANGE_MEETING_DETAILS = False
    services.endpoint_open(person=alice)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=5), now + timedelta(hours=1), "Busy", *MEETING.values())
    ]

    refresh(now=now)

    assert exchange.availability_requests[0]["view"] == "FreeBusy"
    assert shown(alice, watchers["workgroup"]) == ("busy", "in-a-meeting")
    assert meeting_seen(alice, watchers["workgroup"]) == {}


def test_feature_is_off_without_an_ews_url_and_says_so_once(
    exchange, alice, settings, monkeypatch, caplog
):
    monkeypatch.setattr(services, "_calendar_off_said", False)
    services.endpoint_open(person=alice)
    now = now_whole_second()
    exchange.calendars[ALICE_MAIL] = [
        (now - timedelta(minutes=5), now + timedelta(hours=1), "Busy")
    ]
    settings.PARLEY_EXCHANGE_EWS_URL = ""

    first = tasks.calendar_presence_refresh.apply().get()
    second = tasks.calendar_presence_refresh.apply().get()

    assert (first, second) == (0, 0)
    assert exchange.operations == []
    assert exchange.availability_requests == []
    assert PresenceState.objects.get(person=alice).calendar_activity == ""
    messages = [r.getMessage() for r in caplog.records if r.name == "presence.services"]
    assert messages == ["Calendar presence is off: PARLEY_EXCHANGE_EWS_URL is not set."]


def _settings_in_fresh_interpreter(**environment: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_EXCHANGE_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", **environment)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(sorted(settings.CELERY_BEAT_SCHEDULE))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_beat_polls_the_calendar_only_when_an_ews_url_is_set():
    off = _settings_in_fresh_interpreter()
    on = _settings_in_fresh_interpreter(
        PARLEY_EXCHANGE_EWS_URL="https://mail.contoso.test/EWS/Exchange.asmx",
        PARLEY_EXCHANGE_USERNAME=SERVICE_USER,
        PARLEY_EXCHANGE_PASSWORD=SERVICE_PASSWORD,
    )

    always = [
        "archive-anchor-daily",
        "archive-retention-run",
        "archive-search-index-sweep",
        "archive-search-reconcile",
        "category-walls-sweep",
        "export-resume-stale",
        "information-barriers-sweep",
        "missed-im-email",
        "presence-sweep",
        "supervision-sweep",
        "usage-purge",
        "usage-refresh",
    ]
    assert off.stdout == f"{sorted(always)}\n"
    assert on.stdout == f"{sorted([*always, 'calendar-presence-refresh'])}\n"
    # The administrator's switches for people's mailboxes add their entries.
    mailboxes = _settings_in_fresh_interpreter(
        PARLEY_EXCHANGE_EWS_URL="https://mail.contoso.test/EWS/Exchange.asmx",
        PARLEY_EXCHANGE_USERNAME=SERVICE_USER,
        PARLEY_EXCHANGE_PASSWORD=SERVICE_PASSWORD,
        PARLEY_CONVERSATION_HISTORY="true",
        PARLEY_CONTACT_SYNC="true",
    )
    mailbox_entries = ["contacts-mailbox-sync", "conversation-history-write"]
    assert mailboxes.stdout == (
        f"{sorted([*always, 'calendar-presence-refresh', *mailbox_entries])}\n"
    )


@pytest.mark.parametrize("switch", ["PARLEY_CONVERSATION_HISTORY", "PARLEY_CONTACT_SYNC"])
def test_a_mailbox_switch_without_an_ews_url_stops_start_up_naming_it(switch):
    result = _settings_in_fresh_interpreter(**{switch: "true"})

    assert result.returncode != 0
    assert f"{switch} is on, so Parley needs a mailbox server: set PARLEY_EXCHANGE_EWS_URL" in (
        result.stderr
    )


def test_an_ews_url_without_credentials_stops_start_up_naming_the_variable():
    result = _settings_in_fresh_interpreter(
        PARLEY_EXCHANGE_EWS_URL="https://mail.contoso.test/EWS/Exchange.asmx",
        PARLEY_EXCHANGE_USERNAME=SERVICE_USER,
    )

    assert result.returncode != 0
    assert "calendar presence needs PARLEY_EXCHANGE_PASSWORD" in result.stderr
