"""Usage reports: conversation-day rows derived from the archive, and the report API."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from archiving.models import ArchiveEvent, ArchiveRecord
from archiving.services import capture
from archiving.usage import services as usage
from archiving.usage import tasks
from archiving.usage.models import UsageConversationDay, UsageCursor, UsageParticipantDay
from directory.models import Department

pytestmark = pytest.mark.django_db

REPORT = "/api/v1/reports/usage/"
D1, D2 = date(2026, 3, 2), date(2026, 3, 3)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@pytest.fixture
def people(make_person):
    trading = Department.objects.create(name="Trading")
    research = Department.objects.create(name="Research")
    return {
        "alice": make_person("alice", department=trading),
        "bob": make_person("bob", department=trading),
        "carol": make_person("carol", department=research),
        "dave": make_person("dave", is_external=True, company="Fabrikam"),
    }


def _record(conversation_id, kind, actor, when, *, members, external=False, event=None):
    return capture(
        conversation_id=conversation_id,
        conversation_kind=kind,
        is_external=external,
        participant_ids=[p.pk for p in members],
        event=event or ArchiveEvent.MESSAGE_POSTED,
        actor=actor,
        occurred_at=when,
        body="words never copied into usage rows",
    )


@pytest.fixture
def scenario(people):
    """Conversation 1 (direct, alice-bob), 2 (room, carol posts a file), 3 (external) on 2 days."""
    alice, bob, carol, dave = (people[n] for n in ("alice", "bob", "carol", "dave"))
    one, room, ext = [alice, bob], [alice, carol], [carol, dave]
    _record(1, "direct", alice, at(D1, 10), members=one)
    _record(1, "direct", bob, at(D1, 11), members=one)
    _record(1, "direct", alice, at(D1, 12, 30), members=one)
    _record(1, "direct", bob, at(D2, 9), members=one)
    _record(1, "direct", alice, at(D2, 9, 5), members=one, event=ArchiveEvent.HISTORY_VIEWED)
    _record(2, "room", carol, at(D1, 13), members=room)
    # A file arrives as its message and its upload, as chat captures it.
    _record(2, "room", carol, at(D1, 13, 5), members=room)
    _record(2, "room", carol, at(D1, 13, 5), members=room, event=ArchiveEvent.FILE_UPLOADED)
    _record(3, "direct", carol, at(D2, 15), members=ext, external=True)
    _record(3, "direct", dave, at(D2, 16), members=ext, external=True)
    return people


@pytest.fixture
def officer_client(officer, api_client_for):
    return api_client_for(officer)


def _row(**fields):
    return {
        "conversations": 0,
        "messages": 0,
        "files": 0,
        "people": 0,
        "external_messages": 0,
        **fields,
    }


def test_refresh_stores_one_record_per_conversation_day_without_content(scenario):
    assert usage.usage_refresh() == 4

    rows = {
        (r.conversation_id, r.day): (
            r.kind,
            r.is_external,
            r.messages,
            r.files,
            r.external_messages,
            r.first_activity,
            r.last_activity,
            sorted((p.username, p.department, p.messages, p.files) for p in r.participants.all()),
        )
        for r in UsageConversationDay.objects.prefetch_related("participants")
    }
    assert rows == {
        (1, D1): (
            "direct",
            False,
            3,
            0,
            0,
            at(D1, 10),
            at(D1, 12, 30),
            [("alice", "Trading", 2, 0), ("bob", "Trading", 1, 0)],
        ),
        (1, D2): ("direct", False, 1, 0, 0, at(D2, 9), at(D2, 9), [("bob", "Trading", 1, 0)]),
        (2, D1): ("room", False, 2, 1, 0, at(D1, 13), at(D1, 13, 5), [("carol", "Research", 2, 1)]),
        (3, D2): (
            "direct",
            True,
            2,
            0,
            2,
            at(D2, 15),
            at(D2, 16),
            [("carol", "Research", 1, 0), ("dave", None, 1, 0)],
        ),
    }


def test_refresh_is_idempotent_and_recounts_a_day_that_gets_more_activity(scenario):
    usage.usage_refresh()
    usage.usage_refresh()
    assert UsageConversationDay.objects.count() == 4
    assert UsageParticipantDay.objects.count() == 6

    bob = scenario["bob"]
    _record(1, "direct", bob, at(D2, 18), members=[scenario["alice"], bob])
    usage.usage_refresh()

    row = UsageConversationDay.objects.get(conversation_id=1, day=D2)
    assert (row.messages, row.last_activity) == (2, at(D2, 18))
    assert UsageConversationDay.objects.count() == 4


def test_cursor_passes_only_settled_records(scenario):
    usage.usage_refresh()
    assert UsageCursor.objects.get().last_record_id == 0  # just recorded: read again next time

    usage.usage_refresh(now=timezone.now() + usage.SETTLE + timedelta(seconds=1))

    last = ArchiveRecord.objects.order_by("-pk").first()
    assert UsageCursor.objects.get().last_record_id == last.pk
    assert usage.usage_refresh(now=timezone.now() + timedelta(hours=1)) == 0


def test_purge_keeps_rows_for_their_own_retention(scenario, settings):
    usage.usage_refresh()
    settings.PARLEY_USAGE_RETENTION_DAYS = 10

    deleted = usage.usage_purge(now=at(D2 + timedelta(days=10), 12))

    assert deleted == 2  # D1's rows; D2 is exactly 10 days old and kept
    assert sorted(UsageConversationDay.objects.values_list("conversation_id", "day")) == [
        (1, D2),
        (3, D2),
    ]
    assert not UsageParticipantDay.objects.filter(conversation_day__day=D1).exists()


def test_report_by_day(scenario, officer_client):
    response = officer_client.get(REPORT, {"start": "2026-03-01", "end": "2026-03-31"})

    assert response.status_code == 200
    assert response.json() == {
        "rows": [
            _row(key="2026-03-02", conversations=2, messages=5, files=1, people=3),
            _row(key="2026-03-03", conversations=2, messages=3, people=3, external_messages=2),
        ]
    }


def test_report_by_kind(scenario, officer_client):
    response = officer_client.get(REPORT, {"group_by": "kind"})

    assert response.status_code == 200
    assert response.json() == {
        "rows": [
            _row(key="direct", conversations=2, messages=6, people=4, external_messages=2),
            _row(key="room", conversations=1, messages=2, files=1, people=1),
        ]
    }


def test_report_by_department(scenario, officer_client):
    response = officer_client.get(REPORT, {"group_by": "department"})

    assert response.status_code == 200
    assert response.json() == {
        "rows": [
            _row(
                key="Research",
                conversations=2,
                messages=3,
                files=1,
                people=1,
                external_messages=1,
            ),
            _row(key="Trading", conversations=1, messages=4, people=2),
            # External people have no department.
            _row(key=None, conversations=1, messages=1, people=1, external_messages=1),
        ]
    }


def test_report_days_from_start_to_end_included(scenario, officer_client):
    response = officer_client.get(REPORT, {"start": "2026-03-03", "end": "2026-03-03"})

    assert response.json() == {
        "rows": [_row(key="2026-03-03", conversations=2, messages=3, people=3, external_messages=2)]
    }


def test_report_refuses_an_unknown_grouping_and_a_bad_date(scenario, officer_client):
    response = officer_client.get(REPORT, {"group_by": "colour"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"

    response = officer_client.get(REPORT, {"start": "March"})
    assert response.status_code == 400
    assert "start" in response.json()["error"]["detail"]


def test_report_is_refused_to_an_employee(scenario, api_client_for):
    response = api_client_for(scenario["alice"]).get(REPORT)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_allowed"
    assert not UsageConversationDay.objects.exists()


def test_report_answers_an_administrator(scenario, make_person, api_client_for):
    admin = make_person("admin", is_staff=True)

    response = api_client_for(admin).get(REPORT, {"group_by": "kind"})

    assert response.status_code == 200
    assert [row["key"] for row in response.json()["rows"]] == ["direct", "room"]


def test_report_needs_sign_in(client):
    response = client.get(REPORT)

    assert response.status_code == 401


def test_refresh_task_builds_the_rows(scenario):
    tasks.usage_refresh.delay()

    assert UsageConversationDay.objects.count() == 4


def test_report_by_room_names_the_busiest_rooms_first(people, officer_client):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    quiet, busy = 40, 41
    capture(
        conversation_id=busy,
        conversation_kind="room",
        is_external=False,
        participant_ids=[alice.pk, bob.pk],
        event=ArchiveEvent.CONVERSATION_CREATED,
        actor=alice,
        occurred_at=at(D1, 8),
        payload={"participants": ["alice", "bob"], "title": "Trading floor"},
    )
    capture(
        conversation_id=quiet,
        conversation_kind="room",
        is_external=False,
        participant_ids=[carol.pk],
        event=ArchiveEvent.CONVERSATION_CREATED,
        actor=carol,
        occurred_at=at(D1, 8),
        payload={"participants": ["carol"], "title": "Research notes"},
    )
    for hour in (9, 10, 11):
        _record(busy, "room", alice if hour % 2 else bob, at(D1, hour), members=[alice, bob])
    _record(quiet, "room", carol, at(D1, 12), members=[carol])
    _record(7, "direct", alice, at(D1, 12), members=[alice, bob])  # not a room

    response = officer_client.get(REPORT, {"group_by": "room"})

    assert response.status_code == 200
    assert response.json() == {
        "rows": [
            _row(key="Trading floor", conversation=busy, conversations=1, messages=3, people=2),
            _row(key="Research notes", conversation=quiet, conversations=1, messages=1, people=1),
        ]
    }


def test_report_downloads_as_csv_with_quoting(people, officer_client):
    alice, bob = people["alice"], people["bob"]
    Department.objects.filter(name="Trading").update(name='Trading, "Desk" 1')
    alice.refresh_from_db()
    capture(
        conversation_id=50,
        conversation_kind="room",
        is_external=False,
        participant_ids=[alice.pk],
        event=ArchiveEvent.CONVERSATION_CREATED,
        actor=alice,
        occurred_at=at(D1, 8),
        payload={"participants": ["alice"], "title": '=HYPERLINK("http://x")'},
    )
    _record(50, "room", alice, at(D1, 9), members=[alice])
    _record(51, "direct", bob, at(D1, 9), members=[alice, bob])

    by_department = officer_client.get(REPORT, {"group_by": "department", "format": "csv"})
    by_room = officer_client.get(REPORT, {"group_by": "room", "format": "csv"})

    assert by_department.status_code == 200
    assert by_department["Content-Type"] == "text/csv; charset=utf-8"
    assert by_department["Content-Disposition"] == (
        'attachment; filename="parley-usage-department-start-end.csv"'
    )
    assert by_department.content.decode() == (
        "key,conversations,messages,files,people,external_messages\r\n"
        '"Trading, ""Desk"" 1",2,2,0,2,0\r\n'
    )
    # A room name a spreadsheet would run as a formula is written as text.
    assert by_room.content.decode() == (
        "key,conversations,messages,files,people,external_messages,conversation\r\n"
        '"\'=HYPERLINK(""http://x"")",1,1,0,1,0,50\r\n'
    )


def test_csv_download_refusals_stay_json(scenario, officer_client, api_client_for):
    bad = officer_client.get(REPORT, {"group_by": "colour", "format": "csv"})
    refused = api_client_for(scenario["alice"]).get(REPORT, {"format": "csv"})

    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid"
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "not_allowed"
