import pytest

from archiving.models import AuditAction, AuditEntry, Case, LegalHold, SavedSearch
from archiving.search.query import InvalidQuery, query_parse

pytestmark = pytest.mark.django_db

CASES = "/api/v1/archive/cases/"


@pytest.fixture
def client(officer, api_client_for):
    return api_client_for(officer)


@pytest.fixture
def case(client):
    response = client.post(CASES, {"name": "Falcon", "description": "Trading leak"}, format="json")
    assert response.status_code == 201
    return response.json()


@pytest.fixture
def records(archive_record, alice, bob, carol):
    """alice-bob (conversation 1, days 0-2), carol alone (2, day 1), bob in a room (3, day 5)."""
    for i, (actor, body) in enumerate([(alice, "merger soon"), (bob, "ok"), (alice, "lunch")]):
        archive_record(conversation_id=1, actor=actor, at=i, body=body, participants=[alice, bob])
    archive_record(conversation_id=2, actor=carol, at=1, body="merger rumour")
    archive_record(conversation_id=3, actor=bob, at=5, body="room talk", kind="room")


def _audit(action):
    return list(AuditEntry.objects.filter(action=action).order_by("sequence"))


def test_opening_a_case_is_audited(case, officer):
    assert case["name"] == "Falcon"
    assert (case["status"], case["owner"]) == ("open", "cora")
    (entry,) = _audit(AuditAction.CASE_CREATE)
    assert (entry.actor_id, entry.target) == (officer.pk, f"case {case['id']}")
    assert entry.parameters == {
        "name": "Falcon",
        "description": "Trading leak",
        "status": "open",
        "owner": "cora",
    }


def test_a_case_needs_a_name(client):
    response = client.post(CASES, {"name": "  "}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["detail"] == "name must not be empty."
    assert not Case.objects.exists()
    assert not AuditEntry.objects.exists()


def test_placing_a_hold_counts_and_audits_what_it_covers(client, case, records):
    response = client.post(
        f"{CASES}{case['id']}/holds/",
        {"custodians": ["bob"], "conversations": [2], "start": "2026-01-01", "end": "2026-01-02"},
        format="json",
    )

    assert response.status_code == 201
    hold = response.json()
    # bob's conversations 1 and 3 plus conversation 2, within 1-2 January: days 0 and 1.
    assert hold["record_count"] == 3
    assert (hold["custodians"], hold["conversations"]) == (["bob"], [2])
    assert hold["is_active"] is True
    (entry,) = _audit(AuditAction.HOLD_PLACE)
    assert entry.target == f"hold {hold['id']}"
    assert entry.result_count == 3
    assert entry.parameters == {
        "case": case["id"],
        "custodians": ["bob"],
        "conversations": [2],
        "start": "2026-01-01T00:00:00+00:00",
        "end": "2026-01-03T00:00:00+00:00",
        "query": "",
    }


def test_a_hold_query_narrows_it_to_matching_records(client, case, records):
    response = client.post(
        f"{CASES}{case['id']}/holds/", {"conversations": [1, 2], "query": "merger"}, format="json"
    )

    assert response.json()["record_count"] == 2


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ({"custodians": ["nobody"]}, "unknown_person", "custodians: no person named nobody."),
        ({"custodians": "bob"}, "invalid", "custodians must be a list of usernames."),
        ({}, "invalid", "A hold needs at least one custodian or one conversation."),
        (
            {"conversations": ["x"]},
            "invalid",
            "conversations must be a list of conversation ids (positive integers).",
        ),
        (
            {"conversations": [1], "start": "yesterday"},
            "invalid",
            "start is not a valid date: 'yesterday'; use ISO 8601, e.g. 2026-11-02 or "
            "2026-11-02T09:00:00Z.",
        ),
        (
            {"conversations": [1], "end": "2026-02-30"},
            "invalid",
            "end is not a valid date: '2026-02-30'; use ISO 8601, e.g. 2026-11-02 or "
            "2026-11-02T09:00:00Z.",
        ),
        (
            {"conversations": [1], "start": "2026-03-01", "end": "2026-02-01"},
            "invalid",
            "start must be before end.",
        ),
        ({"conversations": [1], "colour": "red"}, "invalid", "Unknown field(s) colour."),
    ],
)
def test_a_bad_hold_is_refused_and_nothing_is_written(client, case, body, code, detail):
    before = AuditEntry.objects.count()

    response = client.post(f"{CASES}{case['id']}/holds/", body, format="json")

    assert response.status_code == 400
    assert response.json() == {"error": {"code": code, "detail": detail}}
    assert not LegalHold.objects.exists()
    assert AuditEntry.objects.count() == before


def test_an_invalid_hold_query_gets_the_parsers_message(client, case):
    with pytest.raises(InvalidQuery) as parsed:
        query_parse('merger AND ("bonus')

    response = client.post(
        f"{CASES}{case['id']}/holds/",
        {"custodians": ["cora"], "query": 'merger AND ("bonus'},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"] == {"code": "invalid_query", "detail": parsed.value.detail}
    assert not LegalHold.objects.exists()


def _hold(client, case, **body):
    body.setdefault("conversations", [1])
    response = client.post(f"{CASES}{case['id']}/holds/", body, format="json")
    assert response.status_code == 201
    return response.json()


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": 5}])
def test_release_without_a_reason_is_refused_and_nothing_changes(client, case, body):
    hold = _hold(client, case)
    before = AuditEntry.objects.count()

    response = client.post(f"/api/v1/archive/holds/{hold['id']}/release/", body, format="json")

    assert response.status_code == 400
    assert LegalHold.objects.get(pk=hold["id"]).released_at is None
    assert AuditEntry.objects.count() == before


def test_release_with_a_reason_is_audited(client, case, officer):
    hold = _hold(client, case)

    response = client.post(
        f"/api/v1/archive/holds/{hold['id']}/release/", {"reason": "Settled"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["is_active"], body["released_by"], body["release_reason"]) == (
        False,
        "cora",
        "Settled",
    )
    (entry,) = _audit(AuditAction.HOLD_RELEASE)
    assert (entry.actor_id, entry.target) == (officer.pk, f"hold {hold['id']}")
    assert entry.parameters == {"case": case["id"], "reason": "Settled"}
    again = client.post(
        f"/api/v1/archive/holds/{hold['id']}/release/", {"reason": "x"}, format="json"
    )
    assert again.status_code == 409


def test_a_case_with_active_holds_cannot_be_closed(client, case):
    hold = _hold(client, case)
    url = f"{CASES}{case['id']}/"
    before = AuditEntry.objects.count()

    refused = client.patch(url, {"status": "closed"}, format="json")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "case_has_active_holds"
    assert Case.objects.get(pk=case["id"]).status == "open"
    assert AuditEntry.objects.count() == before
    client.post(f"/api/v1/archive/holds/{hold['id']}/release/", {"reason": "Done"}, format="json")
    closed = client.patch(url, {"status": "closed", "name": "Falcon (closed)"}, format="json")
    assert closed.status_code == 200
    (entry,) = _audit(AuditAction.CASE_UPDATE)
    assert entry.parameters == {
        "changes": {
            "name": {"from": "Falcon", "to": "Falcon (closed)"},
            "status": {"from": "open", "to": "closed"},
        }
    }
    on_closed = client.post(f"{CASES}{case['id']}/holds/", {"conversations": [1]}, format="json")
    assert on_closed.status_code == 409
    assert on_closed.json()["error"]["code"] == "case_closed"


def test_listing_and_viewing_cases_is_audited(client, case, records, officer):
    _hold(client, case, conversations=[1])

    listing = client.get(CASES)
    detail = client.get(f"{CASES}{case['id']}/")
    holds = client.get(f"{CASES}{case['id']}/holds/")

    assert [c["id"] for c in listing.json()["results"]] == [case["id"]]
    assert [h["record_count"] for h in detail.json()["holds"]] == [3]
    assert [h["record_count"] for h in holds.json()["results"]] == [3]
    views = [(e.action, e.target, e.result_count) for e in AuditEntry.objects.order_by("sequence")]
    assert views[-3:] == [
        (AuditAction.CASE_VIEW, "cases", 1),
        (AuditAction.CASE_VIEW, f"case {case['id']}", None),
        (AuditAction.HOLD_VIEW, f"case {case['id']}", 1),
    ]


def test_an_unknown_case_is_404(client):
    assert client.get(f"{CASES}999/").status_code == 404
    assert client.post(f"{CASES}999/holds/", {"conversations": [1]}, format="json").status_code == (
        404
    )


def test_saved_searches_are_validated_and_audited(client, case, alice):
    url = f"{CASES}{case['id']}/saved-searches/"

    created = client.post(
        url,
        {
            "name": "Merger talk",
            "query": '"merger" OR bonus*',
            "filters": {"participants": ["alice"], "kinds": ["room"], "start": "2026-01-01"},
        },
        format="json",
    )
    duplicate = client.post(url, {"name": "Merger talk"}, format="json")
    bad_filter = client.post(url, {"name": "x", "filters": {"colour": 1}}, format="json")
    bad_kind = client.post(url, {"name": "y", "filters": {"kinds": ["mail"]}}, format="json")
    bad_query = client.post(url, {"name": "z", "query": "NOT merger"}, format="json")

    assert created.status_code == 201
    assert created.json()["filters"] == {
        "participants": ["alice"],
        "kinds": ["room"],
        "start": "2026-01-01T00:00:00+00:00",
    }
    assert (duplicate.status_code, bad_filter.status_code, bad_kind.status_code) == (409, 400, 400)
    assert bad_query.json()["error"]["code"] == "invalid_query"
    assert SavedSearch.objects.count() == 1
    (entry,) = _audit(AuditAction.SAVED_SEARCH_CREATE)
    assert entry.parameters == {
        "case": case["id"],
        "name": "Merger talk",
        "query": '"merger" OR bonus*',
        "filters": created.json()["filters"],
    }
    listing = client.get(url).json()["results"]
    assert [s["name"] for s in listing] == ["Merger talk"]


def test_a_case_changes_hands_only_to_another_officer(client, case, alice, make_person):
    from django.contrib.auth.models import Group

    url = f"{CASES}{case['id']}/"
    refused = client.patch(url, {"owner": "alice"}, format="json")
    dana = make_person("dana")
    dana.groups.add(Group.objects.get(name="Compliance"))
    moved = client.patch(url, {"owner": "dana"}, format="json")

    assert refused.json()["error"]["detail"] == "owner: alice is not a compliance officer."
    assert (moved.status_code, moved.json()["owner"]) == (200, "dana")
    (entry,) = _audit(AuditAction.CASE_UPDATE)
    assert entry.parameters == {"changes": {"owner": {"from": "cora", "to": "dana"}}}
