"""Only the Compliance group reaches /api/v1/archive/; nobody else changes anything there, and
every refusal of a signed-in person is audited (who, which path, why; never what they sent)."""

import pytest
from rest_framework.test import APIClient

from archiving.models import AuditEntry, Case, LegalHold, RetentionPolicy, SavedSearch

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/v1/archive/cases/", None),
    ("post", "/api/v1/archive/cases/", {"name": "Sneaky"}),
    ("get", "/api/v1/archive/cases/{case}/", None),
    ("patch", "/api/v1/archive/cases/{case}/", {"description": "changed"}),
    ("get", "/api/v1/archive/cases/{case}/holds/", None),
    ("post", "/api/v1/archive/cases/{case}/holds/", {"conversations": [1]}),
    ("get", "/api/v1/archive/cases/{case}/saved-searches/", None),
    ("post", "/api/v1/archive/cases/{case}/saved-searches/", {"name": "s"}),
    ("get", "/api/v1/archive/holds/{hold}/", None),
    ("post", "/api/v1/archive/holds/{hold}/release/", {"reason": "because"}),
    ("get", "/api/v1/archive/retention/policies/", None),
    (
        "post",
        "/api/v1/archive/retention/policies/",
        {"scope": "person", "person": "cora", "days": 1},
    ),
    ("patch", "/api/v1/archive/retention/policies/{policy}/", {"days": 1}),
    ("delete", "/api/v1/archive/retention/policies/{policy}/", None),
    ("post", "/api/v1/archive/retention/dry-run/", {}),
    ("get", "/api/v1/archive/retention/purges/", None),
    ("get", "/api/v1/archive/audit/", None),
    ("get", "/api/v1/archive/verify/", None),
]


@pytest.fixture
def objects(officer):
    from archiving import holds, retention

    case = holds.case_create(actor=officer, name="Falcon")
    hold = holds.hold_place(actor=officer, case_id=case.pk, conversations=[1])
    policy, _ = retention.retention_policy_save(actor=officer, data={"scope": "global", "days": 9})
    return {"case": case.pk, "hold": hold.pk, "policy": policy.pk}


def _state():
    return (
        list(Case.objects.values_list("name", "status")),
        list(LegalHold.objects.values_list("released_at", flat=True)),
        list(RetentionPolicy.objects.values_list("days", flat=True)),
        SavedSearch.objects.count(),
    )


@pytest.fixture(params=["employee", "administrator", "anonymous"])
def outsider(request, make_person, api_client_for):
    if request.param == "anonymous":
        return request.param, APIClient()
    person = make_person(request.param)
    if request.param == "administrator":
        person.is_staff = person.is_superuser = True
        person.save()
    return request.param, api_client_for(person)


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_only_compliance_officers_reach_the_archive(objects, outsider, method, url, body):
    who, client = outsider
    before = _state()

    response = getattr(client, method)(url.format(**objects), body, format="json")

    expected = 401 if who == "anonymous" else 403
    assert response.status_code == expected
    code = "not_authenticated" if who == "anonymous" else "not_compliance_officer"
    assert response.json()["error"]["code"] == code
    assert _state() == before


def _entries_after(sequence: int) -> list[dict]:
    return list(
        AuditEntry.objects.filter(sequence__gt=sequence)
        .order_by("sequence")
        .values("actor_username", "action", "target", "parameters", "result_count")
    )


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_a_refused_call_is_audited_with_actor_path_and_reason_only(
    objects, outsider, method, url, body
):
    who, client = outsider
    last = AuditEntry.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    path = url.format(**objects)

    getattr(client, method)(path + "?q=secret", body, format="json")

    if who == "anonymous":  # a 401 has no actor to record
        assert _entries_after(last) == []
        return
    assert _entries_after(last) == [
        {
            "actor_username": who,
            "action": "access.refused",
            "target": path,
            "parameters": {"method": method.upper(), "reason": "not_compliance_officer"},
            "result_count": None,
        }
    ]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_compliance_officers_reach_every_archive_endpoint(
    objects, officer, api_client_for, method, url, body
):
    response = getattr(api_client_for(officer), method)(url.format(**objects), body, format="json")

    assert response.status_code in (200, 201)


def test_an_officer_removed_from_the_compliance_group_is_refused_at_the_next_call(
    officer, api_client_for
):
    # the WebSocket carries no archive data: the role is checked on every archive call instead
    client = api_client_for(officer)
    assert client.get("/api/v1/archive/audit/").status_code == 200

    officer.groups.clear()  # as a directory sync would, behind every service's back

    response = client.get("/api/v1/archive/audit/")
    assert response.status_code == 403
    assert AuditEntry.objects.order_by("-sequence").values_list("action", flat=True)[0] == (
        "access.refused"
    )
