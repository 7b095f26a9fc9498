import pytest
from django.db import connection

from archiving import holds
from archiving.audit import audit_append
from archiving.models import ArchiveRecord, AuditAction, AuditEntry
from archiving.retention import retention_policy_save, retention_run
from tests.archiving.conftest import day

pytestmark = pytest.mark.django_db

AUDIT = "/api/v1/archive/audit/"


@pytest.fixture
def client(officer, api_client_for):
    return api_client_for(officer)


@pytest.fixture
def trail(officer, alice):
    """Six searches, alternating officer and alice, one a minute apart is not needed here."""
    for i in range(6):
        audit_append(
            actor=officer if i % 2 == 0 else alice,
            action=AuditAction.SEARCH,
            parameters={"query": f"q{i}"},
            result_count=i,
        )


def test_the_audit_trail_pages_newest_first_and_stays_stable(client, trail):
    first = client.get(AUDIT, {"limit": 4}).json()
    second = client.get(AUDIT, {"limit": 4, "cursor": first["next_cursor"]}).json()

    assert [e["sequence"] for e in first["results"]] == [5, 4, 3, 2]
    # The first request's own audit.view entry (sequence 6) does not shift the next page.
    assert [e["sequence"] for e in second["results"]] == [1, 0]
    assert second["next_cursor"] is None
    assert first["results"][0] == {
        "sequence": 5,
        "actor": "alice",
        "action": "archive.search",
        "target": "",
        "parameters": {"query": "q5"},
        "result_count": 5,
        "occurred_at": first["results"][0]["occurred_at"],
        "record_hash": AuditEntry.objects.get(sequence=5).record_hash,
    }


def test_viewing_the_audit_trail_is_itself_audited(client, trail, officer):
    client.get(AUDIT, {"actor": "alice", "action": "archive.search", "limit": 2})

    entry = AuditEntry.objects.order_by("-sequence").first()
    assert (entry.action, entry.actor_id, entry.result_count) == (
        AuditAction.AUDIT_VIEW,
        officer.pk,
        2,
    )
    assert entry.parameters == {
        "actor": "alice",
        "action": "archive.search",
        "since": None,
        "until": None,
        "cursor": None,
        "limit": 2,
    }


def test_the_audit_trail_filters_by_actor_action_and_time(client, trail):
    by_actor = client.get(AUDIT, {"actor": "alice"}).json()["results"]
    by_action = client.get(AUDIT, {"action": "audit.view"}).json()["results"]
    none_yet = client.get(AUDIT, {"until": "2000-01-01"}).json()["results"]
    all_since = client.get(AUDIT, {"since": "2000-01-01T00:00:00Z"}).json()["results"]

    assert [e["sequence"] for e in by_actor] == [5, 3, 1]
    assert [e["sequence"] for e in by_action] == [6]  # the first view, not this one
    assert none_yet == []
    assert len(all_since) == 9


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"cursor": "abc"}, "cursor must be an integer."),
        ({"limit": "0"}, "limit must be >= 1."),
        ({"since": "soon"}, "since is not a valid date"),
        ({"action": "archive.nothing"}, "Unknown action 'archive.nothing'"),
    ],
)
def test_bad_audit_parameters_are_400(client, query, detail):
    response = client.get(AUDIT, query)

    assert response.status_code == 400
    assert response.json()["error"]["detail"].startswith(detail)
    assert not AuditEntry.objects.exists()


def test_verify_reports_the_archive_and_the_audit_trail(
    client, officer, archive_record, alice, bob
):
    for i in range(4):
        archive_record(
            conversation_id=7, actor=alice, at=i, body=f"m{i}", participants=[alice, bob]
        )
    case = holds.case_create(actor=officer, name="Falcon")
    holds.hold_place(actor=officer, case_id=case.pk, conversations=[7], query="m1")
    retention_policy_save(actor=officer, data={"scope": "global", "days": 10})
    retention_run(now=day(30))

    response = client.get("/api/v1/archive/verify/")

    assert response.status_code == 200
    assert response.json() == {
        "intact": True,
        "archive": {
            "intact": True,
            "chains": 1,
            "records": 1,
            "purges": 1,
            "broken": [],
            "anchor_problems": [],
        },
        "audit": {"intact": True, "entries": 4, "broken_at": None, "reason": ""},
    }
    entry = AuditEntry.objects.order_by("-sequence").first()
    assert (entry.action, entry.result_count) == (AuditAction.VERIFY, 1)
    assert entry.parameters == {
        "intact": True,
        "chains": 1,
        "records": 1,
        "broken": 0,
        "audit_intact": True,
    }


def test_verify_names_a_tampered_record(client, archive_record, alice):
    for i in range(3):
        archive_record(conversation_id=7, actor=alice, at=i, body=f"m{i}")
    target = ArchiveRecord.objects.get(conversation_id=7, chain_index=1)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE archiving_archiverecord SET body = 'x' WHERE id = %s", [target.pk])

    report = client.get("/api/v1/archive/verify/").json()

    assert report["intact"] is False
    assert report["archive"]["broken"] == [
        {
            "conversation": 7,
            "link": 1,
            "record": target.pk,
            "reason": "content does not match its hash (record altered)",
        }
    ]
    assert AuditEntry.objects.get(action=AuditAction.VERIFY).parameters["broken"] == 1
