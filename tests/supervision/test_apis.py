"""The supervision API: Supervision group only, reviewers reach only their policies' items."""

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from archiving.models import AuditEntry, Case
from supervision.models import ReviewItem, SupervisionPolicy

pytestmark = pytest.mark.django_db

POLICY_BODY = {
    "name": "Trading desk",
    "people": ["alice"],
    "departments": [],
    "reviewers": ["sam"],
    "lexicon": ["guarantee", '"inside info"'],
    "sample_percent": 5,
    "scope": "both",
    "start": "2026-01-01",
    "end": None,
}


@pytest.fixture
def item(alice, direct, make_policy, post):
    make_policy(people=["alice"], lexicon=["guarantee"])
    post(sender=alice, conversation=direct, body="I guarantee it")
    return ReviewItem.objects.get()


def _endpoints(item_id: int, policy_id: int) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", "/api/v1/supervision/policies/", None),
        ("post", "/api/v1/supervision/policies/", POLICY_BODY),
        ("get", f"/api/v1/supervision/policies/{policy_id}/", None),
        ("get", "/api/v1/supervision/items/", None),
        ("get", f"/api/v1/supervision/items/{item_id}/", None),
        ("post", f"/api/v1/supervision/items/{item_id}/claim/", None),
        ("post", f"/api/v1/supervision/items/{item_id}/resolve/", {"decision": "compliant"}),
        ("post", f"/api/v1/supervision/items/{item_id}/reassign/", {"reviewer": "sam"}),
    ]


def _call(client, method: str, path: str, body):
    return (
        getattr(client, method)(path, body, format="json")
        if body
        else getattr(client, method)(path)
    )


def test_anonymous_callers_get_401_everywhere(item):
    for method, path, body in _endpoints(item.pk, item.policy_id):
        response = _call(APIClient(), method, path, body)
        assert response.status_code == 401, (method, path)


@pytest.mark.parametrize("who", ["employee", "compliance officer", "administrator"])
def test_people_outside_the_supervision_group_get_403_and_nothing_changes(
    item, make_person, api_client_for, who
):
    person = make_person("outsider", is_staff=who == "administrator")
    if who == "compliance officer":
        person.groups.add(Group.objects.get_or_create(name="Compliance")[0])
    client = api_client_for(person)
    audit_before = AuditEntry.objects.count()

    for method, path, body in _endpoints(item.pk, item.policy_id):
        response = _call(client, method, path, body)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "not_supervisor"

    item.refresh_from_db()
    assert (item.status, item.reviewer_id) == ("open", None)
    assert SupervisionPolicy.objects.count() == 1
    refusals = AuditEntry.objects.filter(action="access.refused")
    assert AuditEntry.objects.count() - audit_before == refusals.count() == 8
    assert {e.parameters["reason"] for e in refusals} == {"not_supervisor"}


def test_a_supervisor_who_does_not_review_the_policy_sees_nothing_of_it(
    item, make_reviewer, api_client_for
):
    client = api_client_for(make_reviewer("stranger"))

    policies = client.get("/api/v1/supervision/policies/")
    items = client.get("/api/v1/supervision/items/")
    statuses = [
        _call(client, method, path, body).status_code
        for method, path, body in _endpoints(item.pk, item.policy_id)[2:]
        if "items/" not in path or path.count("/") > 5
    ]
    filtered = client.get(f"/api/v1/supervision/items/?policy={item.policy_id}")

    assert policies.json() == {"results": []}
    assert items.json() == {"results": [], "next_before": None}
    assert statuses == [404, 404, 404, 404, 404]
    assert filtered.status_code == 404
    item.refresh_from_db()
    assert (item.status, item.decision) == ("open", "")


def test_a_reviewer_creates_a_policy_and_lists_it(alice, sam, api_client_for):
    client = api_client_for(sam)

    created = client.post("/api/v1/supervision/policies/", POLICY_BODY, format="json")
    listed = client.get("/api/v1/supervision/policies/")

    assert created.status_code == 201
    body = created.json()
    assert isinstance(body["id"], int)
    assert {k: body[k] for k in ("name", "people", "reviewers", "lexicon", "sample_percent")} == {
        "name": "Trading desk",
        "people": ["alice"],
        "reviewers": ["sam"],
        "lexicon": ["guarantee", '"inside info"'],
        "sample_percent": 5.0,
    }
    assert (body["scope"], body["start"], body["end"]) == ("both", "2026-01-01T00:00:00Z", None)
    assert [p["id"] for p in listed.json()["results"]] == [body["id"]]
    assert listed.json()["results"][0]["open_items"] == 0


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"scope": "all"}, "scope must be one of"),
        ({"sample_percent": 250}, "sample_percent"),
        ({"sample_percent": "lots"}, "sample_percent"),
        ({"lexicon": ["(unbalanced"]}, "lexicon[0]"),
        ({"lexicon": "guarantee"}, "lexicon must be a list"),
        ({"people": ["ghost"]}, "ghost"),
        ({"reviewers": ["alice"]}, "Supervision group"),
        ({"reviewers": []}, "at least one"),
        ({"start": "yesterday"}, "start"),
        ({"colour": "red"}, "unknown field colour"),
        ({"name": ""}, "name must not be empty"),
    ],
)
def test_policy_create_answers_400_saying_what_to_fix_and_writes_nothing(
    alice, sam, api_client_for, change, fragment
):
    response = api_client_for(sam).post(
        "/api/v1/supervision/policies/", {**POLICY_BODY, **change}, format="json"
    )

    assert response.status_code == 400
    assert fragment in response.json()["error"]["detail"]
    assert not SupervisionPolicy.objects.exists()
    assert not AuditEntry.objects.filter(action="supervision.policy_create").exists()


def test_a_policy_body_that_is_not_an_object_is_a_400(sam, api_client_for):
    response = api_client_for(sam).post("/api/v1/supervision/policies/", [1], format="json")

    assert response.status_code == 400
    assert not SupervisionPolicy.objects.exists()


def test_the_queue_lists_items_with_the_message_as_the_contract_writes_it(
    item, sam, api_client_for
):
    response = api_client_for(sam).get(
        f"/api/v1/supervision/items/?policy={item.policy_id}&status=open"
    )

    assert response.status_code == 200
    [listed] = response.json()["results"]
    message = listed["message"]
    assert {k: listed[k] for k in ("id", "policy", "status", "reason", "matched")} == {
        "id": item.pk,
        "policy": item.policy_id,
        "status": "open",
        "reason": "lexicon",
        "matched": ["guarantee"],
    }
    assert (listed["decision"], listed["reviewer"]) == (None, None)
    assert listed["highlight"] == "I <mark>guarantee</mark> it"
    assert message["id"] == item.message_id
    assert message["sender"] == {"username": "alice", "display_name": "Alice Martin"}
    assert message["body"] == "I guarantee it"
    assert {"conversation", "seq", "created_at", "edited_at", "deleted", "client_id"} <= set(
        message
    )


def test_the_queue_filters_by_status(item, sam, api_client_for):
    client = api_client_for(sam)
    client.post(f"/api/v1/supervision/items/{item.pk}/claim/")

    open_items = client.get("/api/v1/supervision/items/?status=open").json()["results"]
    claimed = client.get("/api/v1/supervision/items/?status=claimed").json()["results"]
    bad = client.get("/api/v1/supervision/items/?status=pending")
    bad_policy = client.get("/api/v1/supervision/items/?policy=abc")

    assert open_items == []
    assert [(i["id"], i["reviewer"]) for i in claimed] == [(item.pk, "sam")]
    assert bad.status_code == bad_policy.status_code == 400
    assert "status must be one of" in bad.json()["error"]["detail"]


def test_claim_resolve_and_the_item_in_its_conversation(item, sam, api_client_for):
    client = api_client_for(sam)

    claimed = client.post(f"/api/v1/supervision/items/{item.pk}/claim/")
    viewed = client.get(f"/api/v1/supervision/items/{item.pk}/?before=3&after=3")
    resolved = client.post(
        f"/api/v1/supervision/items/{item.pk}/resolve/",
        {"decision": "escalated", "comment": "Client promise.", "open_case": True},
        format="json",
    )

    assert (claimed.status_code, claimed.json()["status"]) == (200, "claimed")
    context = viewed.json()["context"]
    assert context["conversation_name"] == "Direct: Alice Martin and Bob Chen"
    assert [r["is_item"] for r in context["records"]].count(True) == 1
    assert any("Alice Martin: I guarantee it" in r["description"] for r in context["records"])
    body = resolved.json()
    assert (body["status"], body["decision"], body["comment"]) == (
        "resolved",
        "escalated",
        "Client promise.",
    )
    assert body["case"] == Case.objects.get().pk
    assert [
        a
        for a in AuditEntry.objects.order_by("sequence").values_list("action", flat=True)
        if a.startswith("supervision.item")
    ] == ["supervision.item_claim", "supervision.item_view", "supervision.item_resolve"]


def test_review_actions_answer_404_409_and_400_and_change_nothing(
    item, sam, make_reviewer, api_client_for
):
    rita = make_reviewer("rita")
    item.policy.reviewers.add(rita)
    sam_client, rita_client = api_client_for(sam), api_client_for(rita)
    sam_client.post(f"/api/v1/supervision/items/{item.pk}/claim/")
    audit_before = AuditEntry.objects.count()

    unknown = sam_client.post("/api/v1/supervision/items/999999/claim/")
    taken = rita_client.post(f"/api/v1/supervision/items/{item.pk}/claim/")
    bad_decision = sam_client.post(
        f"/api/v1/supervision/items/{item.pk}/resolve/", {"decision": "fine"}, format="json"
    )
    extra_field = sam_client.post(
        f"/api/v1/supervision/items/{item.pk}/resolve/",
        {"decision": "compliant", "mood": "ok"},
        format="json",
    )
    not_reviewer = sam_client.post(
        f"/api/v1/supervision/items/{item.pk}/reassign/", {"reviewer": "alice"}, format="json"
    )
    unknown_policy = sam_client.get("/api/v1/supervision/policies/999999/")

    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "item_not_found")
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "claimed_by_other")
    assert bad_decision.status_code == extra_field.status_code == not_reviewer.status_code == 400
    assert "decision must be one of" in bad_decision.json()["error"]["detail"]
    assert "unknown field mood" in extra_field.json()["error"]["detail"]
    assert unknown_policy.status_code == 404
    item.refresh_from_db()
    assert (item.status, item.reviewer_id, item.decision) == ("claimed", sam.pk, "")
    assert AuditEntry.objects.count() == audit_before


def test_reassign_over_the_api(item, sam, make_reviewer, api_client_for):
    rita = make_reviewer("rita")
    item.policy.reviewers.add(rita)

    response = api_client_for(sam).post(
        f"/api/v1/supervision/items/{item.pk}/reassign/", {"reviewer": "rita"}, format="json"
    )

    assert (response.status_code, response.json()["reviewer"]) == (200, "rita")
    assert response.json()["status"] == "claimed"


def test_the_schema_documents_the_supervision_endpoints(client):
    schema = client.get("/api/schema/?format=json").json()
    paths = schema["paths"]

    assert set(paths["/api/v1/supervision/policies/"]) == {"get", "post"}
    resolve = paths["/api/v1/supervision/items/{item_id}/resolve/"]["post"]
    decision = resolve["requestBody"]["content"]["application/json"]["schema"]
    assert decision["properties"]["decision"]["enum"] == ["compliant", "escalated", "violation"]
    for status in ("200", "400", "401", "403", "404"):
        assert status in resolve["responses"]
