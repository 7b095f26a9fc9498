import pytest

from archiving.models import AuditAction, AuditEntry, RetentionPolicy

pytestmark = pytest.mark.django_db

POLICIES = "/api/v1/archive/retention/policies/"
DRY_RUN = "/api/v1/archive/retention/dry-run/"


@pytest.fixture
def client(officer, api_client_for):
    return api_client_for(officer)


@pytest.fixture
def old_records(archive_record, alice, bob, carol):
    """Records from 2026 (long past any short retention when the tests run)."""
    archive_record(conversation_id=1, actor=alice, at=0, body="a", participants=[alice, bob])
    archive_record(conversation_id=1, actor=bob, at=1, body="b")
    archive_record(conversation_id=2, actor=carol, at=0, body="c", kind="room")


def test_a_dry_run_shows_per_person_and_per_conversation_counts(client, old_records, officer):
    response = client.post(DRY_RUN, {"scope": "global", "days": 1}, format="json")

    assert response.status_code == 200
    assert response.json() == {
        "records": 3,
        "held": 0,
        "per_person": {"alice": 1, "bob": 1, "carol": 1},
        "per_conversation": {
            "1": {"kind": "direct", "records": 2},
            "2": {"kind": "room", "records": 1},
        },
    }
    assert not RetentionPolicy.objects.exists()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_id, entry.result_count) == (
        AuditAction.RETENTION_DRY_RUN,
        officer.pk,
        3,
    )
    assert entry.parameters["proposed"] == {
        "id": None,
        "scope": "global",
        "person": None,
        "conversation": None,
        "days": 1,
        "is_active": True,
    }


def test_a_dry_run_of_changing_or_deleting_a_policy(client, old_records):
    created = client.post(POLICIES, {"scope": "global", "days": 1}, format="json").json()
    room = client.post(
        POLICIES, {"scope": "conversation", "conversation": 2, "days": 36500}, format="json"
    ).json()

    longer = client.post(DRY_RUN, {"policy": created["id"], "days": 36500}, format="json")
    without_room = client.post(DRY_RUN, {"policy": room["id"], "delete": True}, format="json")
    as_is = client.post(DRY_RUN, {}, format="json")

    assert longer.json()["records"] == 0
    assert without_room.json()["records"] == 3
    assert as_is.json()["records"] == 2
    assert created["dry_run"]["records"] == 3
    assert room["dry_run"]["records"] == 2
    assert RetentionPolicy.objects.get(pk=created["id"]).days == 1


def test_policies_are_created_changed_and_deleted_over_http(client, old_records, officer):
    created = client.post(POLICIES, {"scope": "person", "person": "bob", "days": 5}, format="json")
    duplicate = client.post(
        POLICIES, {"scope": "person", "person": "bob", "days": 9}, format="json"
    )
    changed = client.patch(f"{POLICIES}{created.json()['id']}/", {"days": 10}, format="json")
    bad = client.patch(f"{POLICIES}{created.json()['id']}/", {"scope": "global"}, format="json")
    listing = client.get(POLICIES).json()["results"]
    deleted = client.delete(f"{POLICIES}{created.json()['id']}/")

    assert created.status_code == 201
    assert (created.json()["person"], created.json()["days"]) == ("bob", 5)
    assert duplicate.status_code == 409
    assert (changed.status_code, changed.json()["days"]) == (200, 10)
    assert bad.status_code == 400
    assert [p["days"] for p in listing] == [10]
    assert deleted.status_code == 200
    assert not RetentionPolicy.objects.exists()
    changes = AuditEntry.objects.filter(action=AuditAction.RETENTION_CHANGE).order_by("sequence")
    assert [(e.parameters["operation"], e.result_count) for e in changes] == [
        ("create", 2),
        ("update", 2),
        ("delete", 0),
    ]
