"""The compliance search endpoints: contract, validation, access and the audit trail."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from archiving.access import COMPLIANCE_GROUP
from archiving.models import ArchiveIndexOutbox, ArchiveRecord, AuditAction, AuditEntry
from archiving.search.indexing import search_index_pending
from chat import services as chat

SEARCH = "/api/v1/archive/search/"


@pytest.fixture
def officer(make_person):
    person = make_person("olga", display_name="Olga Officer")
    person.groups.add(Group.objects.get_or_create(name=COMPLIANCE_GROUP)[0])
    return person


@pytest.fixture
def conversation(alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    return conversation


@pytest.fixture
def messages(alice, bob, conversation):
    posted = [
        chat.message_post(sender=alice, conversation_id=conversation.pk, body=body)[0]
        for body in ("The merger is on", "lunch?", "merger <b>draft</b> attached")
    ]
    chat.message_edit(editor=alice, message_id=posted[1].pk, body="lunch at noon?")
    chat.message_delete(actor=alice, message_id=posted[2].pk)
    chat.message_post(sender=bob, conversation_id=conversation.pk, body="ok, merger it is")
    search_index_pending()
    return posted


def test_search_answers_the_contract_and_audits_text_filters_and_count(
    api_client_for, officer, alice, conversation, messages
):
    response = api_client_for(officer).post(
        SEARCH,
        {
            "query": "merger",
            "participants": ["alice"],
            "conversations": [conversation.pk],
            "start": "2000-01-01",
            "end": "2100-01-01T00:00:00Z",
            "page_size": 2,
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total"] == 3
    assert [hit["body"] for hit in body["hits"]] == [
        "ok, merger it is",
        "merger <b>draft</b> attached",
    ]
    first = body["hits"][0]
    assert set(first) >= {"record", "conversation", "sender", "body", "created_at", "highlight"}
    assert first["created_at"].endswith("Z")
    assert first["conversation"] == conversation.pk
    assert first["sender"] == {"username": "bob", "display_name": "Bob Chen"}
    assert body["hits"][1]["highlight"] == "<mark>merger</mark> &lt;b&gt;draft&lt;/b&gt; attached"
    assert body["next_cursor"]
    assert body["facets"]["senders"] == [
        {"value": "alice", "count": 2},
        {"value": "bob", "count": 1},
    ]
    entry = AuditEntry.objects.get()
    assert entry.action == AuditAction.SEARCH
    assert entry.actor_id == officer.pk
    assert entry.result_count == 3
    assert entry.parameters["query"] == "merger"
    assert entry.parameters["participants"] == ["alice"]
    assert entry.parameters["conversations"] == [conversation.pk]
    assert entry.parameters["start"] == "2000-01-01T00:00:00+00:00"
    assert entry.parameters["end"] == "2100-01-01T00:00:00+00:00"
    assert entry.parameters["hits_returned"] == [h["record"] for h in body["hits"]]

    second = api_client_for(officer).post(
        SEARCH,
        {
            "query": "merger",
            "participants": ["alice"],
            "conversations": [conversation.pk],
            "start": "2000-01-01",
            "end": "2100-01-01T00:00:00Z",
            "page_size": 2,
            "cursor": body["next_cursor"],
        },
        format="json",
    )
    assert second.status_code == 200, second.json()
    assert [hit["body"] for hit in second.json()["hits"]] == ["The merger is on"]
    assert second.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("payload", "code", "fragment"),
    [
        ({"query": "merger", "participants": ["nobody"]}, "unknown_person", "nobody"),
        ({"query": "merger", "senders": ["ghost"]}, "unknown_person", "ghost"),
        ({"query": "merger", "start": "yesterday"}, "invalid", "not a valid date"),
        ({"query": "merger", "end": "2026-13-45"}, "invalid", "not a valid date"),
        ({"query": "x", "start": "2026-03-02", "end": "2026-03-01"}, "invalid", "before end"),
        ({"query": "merger", "page_size": 0}, "invalid", "page_size"),
        ({"query": "merger", "page_size": 201}, "invalid", "page_size"),
        ({"query": "merger", "cursor": "garbage"}, "invalid_cursor", "cursor"),
        ({"query": '"unclosed'}, "invalid_query", "never closed"),
        ({"query": "NOT merger"}, "invalid_query", "NOT"),
        ({"query": "merger", "kinds": ["channel"]}, "invalid", "kinds"),
        ({"query": "merger", "events": ["teleport"]}, "invalid", "teleport"),
        ({"query": "merger", "participant": ["alice"]}, "invalid", "unknown field participant"),
        ({"query": "merger", "conversations": ["abc"]}, "invalid", "conversations"),
        ({"query": 42}, "invalid", "query"),
    ],
)
def test_search_rejects_bad_input_with_a_400_and_audits_nothing(
    api_client_for, officer, alice, messages, payload, code, fragment
):
    response = api_client_for(officer).post(SEARCH, payload, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == code
    assert fragment in response.json()["error"]["detail"]
    assert not AuditEntry.objects.exists()


def _client(api_client_for, person):
    return APIClient() if person is None else api_client_for(person)


@pytest.mark.parametrize(("who", "status"), [("employee", 403), ("admin", 403), ("anonymous", 401)])
def test_only_compliance_officers_reach_the_archive(
    api_client_for, make_person, alice, messages, who, status
):
    person = {
        "employee": alice,
        "admin": make_person("root", is_staff=True, is_superuser=True),
        "anonymous": None,
    }[who]
    client = _client(api_client_for, person)
    record = ArchiveRecord.objects.first()

    responses = [
        client.post(SEARCH, {"query": "merger"}, format="json"),
        client.get(f"/api/v1/archive/records/{record.pk}/"),
        client.get(f"/api/v1/archive/records/{record.pk}/context/"),
        client.get("/api/v1/archive/health/"),
    ]

    assert [r.status_code for r in responses] == [status] * 4
    refusals = list(AuditEntry.objects.order_by("sequence").values_list("action", "target"))
    if status == 403:
        assert {r.json()["error"]["code"] for r in responses} == {"not_compliance_officer"}
        # each refusal is audited (its path, not the query it carried), and nothing else
        assert refusals == [
            ("access.refused", SEARCH),
            ("access.refused", f"/api/v1/archive/records/{record.pk}/"),
            ("access.refused", f"/api/v1/archive/records/{record.pk}/context/"),
            ("access.refused", "/api/v1/archive/health/"),
        ]
    else:
        assert refusals == []


def test_record_view_is_audited(api_client_for, officer, messages):
    record = ArchiveRecord.objects.get(message_id=messages[0].pk, event="message.posted")

    response = api_client_for(officer).get(f"/api/v1/archive/records/{record.pk}/")

    assert response.status_code == 200
    assert response.json()["body"] == "The merger is on"
    assert response.json()["record_hash"] == record.record_hash
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.target, entry.result_count) == (
        AuditAction.RECORD_VIEW,
        f"record:{record.pk}",
        1,
    )


def test_record_view_of_a_missing_record_is_404_and_not_audited(api_client_for, officer):
    response = api_client_for(officer).get("/api/v1/archive/records/999999/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "record_not_found"
    assert not AuditEntry.objects.exists()


def test_context_shows_edits_and_deletes_where_they_happened(
    api_client_for, officer, conversation, messages
):
    hit = ArchiveRecord.objects.get(message_id=messages[1].pk, event="message.posted")

    response = api_client_for(officer).get(
        f"/api/v1/archive/records/{hit.pk}/context/?before=1&after=10"
    )

    assert response.status_code == 200, response.json()
    records = response.json()["records"]
    assert [(r["event"], r["body"]) for r in records] == [
        ("message.posted", "The merger is on"),
        ("message.posted", "lunch?"),
        ("message.posted", "merger <b>draft</b> attached"),
        ("message.edited", "lunch at noon?"),
        ("message.deleted", ""),
        ("message.posted", "ok, merger it is"),
    ]
    assert [r["chain_index"] for r in records] == list(
        range(hit.chain_index - 1, hit.chain_index + 5)
    )
    entry = AuditEntry.objects.get()
    assert entry.action == AuditAction.CONTEXT_VIEW
    assert entry.parameters["records"] == [r["record"] for r in records]
    assert entry.result_count == 6


@pytest.mark.parametrize("query", ["before=abc", "after=-1", "after=101"])
def test_context_rejects_bad_counts(api_client_for, officer, messages, query):
    record = ArchiveRecord.objects.first()

    response = api_client_for(officer).get(f"/api/v1/archive/records/{record.pk}/context/?{query}")

    assert response.status_code == 400
    assert not AuditEntry.objects.exists()


def test_health_reports_pending_records_and_capture_lag(
    api_client_for, officer, alice, conversation
):
    chat.message_post(sender=alice, conversation_id=conversation.pk, body="not indexed yet")
    pending = ArchiveIndexOutbox.objects.count()

    response = api_client_for(officer).get("/api/v1/archive/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["backend"] == "tantivy"  # the embedded default
    assert body["pending"] == pending > 0
    assert body["oldest_pending_at"] is not None
    assert body["capture_lag_seconds"] >= 0

    search_index_pending()
    drained = api_client_for(officer).get("/api/v1/archive/health/").json()
    assert (drained["pending"], drained["capture_lag_seconds"]) == (0, 0.0)


def test_an_end_date_includes_its_whole_day(api_client_for, officer, messages):
    today = timezone.now().date()

    through_today = api_client_for(officer).post(
        SEARCH, {"query": "merger", "end": today.isoformat()}, format="json"
    )
    before_today = api_client_for(officer).post(
        SEARCH, {"query": "merger", "end": (today - timedelta(days=1)).isoformat()}, format="json"
    )

    assert through_today.json()["total"] == 3
    assert before_today.json()["total"] == 0


@pytest.fixture
def database_search(settings):
    """The database backend: it stops counting at the threshold (tantivy always counts)."""
    from archiving.search.backend import backend_reset

    settings.PARLEY_ARCHIVE_SEARCH_BACKEND = "database"
    backend_reset()


def test_totals_past_the_threshold_say_at_least_unless_the_exact_count_is_asked(
    database_search, api_client_for, officer, messages, settings
):
    settings.PARLEY_ARCHIVE_SEARCH_EXACT_TOTAL_UP_TO = 2
    client = api_client_for(officer)

    capped = client.post(SEARCH, {"query": "merger", "page_size": 1}, format="json").json()
    exact = client.post(
        SEARCH, {"query": "merger", "page_size": 1, "exact_total": True}, format="json"
    ).json()

    assert (capped["total"], capped["total_is_exact"]) == (2, False)
    assert (exact["total"], exact["total_is_exact"]) == (3, True)
    assert len(capped["hits"]) == len(exact["hits"]) == 1
    entry = AuditEntry.objects.filter(action=AuditAction.SEARCH).order_by("sequence").first()
    assert (entry.result_count, entry.parameters["total_is_exact"]) == (2, False)


def test_search_by_legal_hold_keeps_what_the_hold_covers_and_is_audited(
    api_client_for, officer, alice, bob, carol, conversation, messages
):
    from archiving import holds

    other, _ = chat.conversation_direct_get_or_create(person=bob, other=carol)
    chat.message_post(sender=carol, conversation_id=other.pk, body="merger, says carol")
    search_index_pending()
    case = holds.case_create(actor=officer, name="Inquiry")
    hold = holds.hold_place(actor=officer, case_id=case.pk, custodians=["alice"])
    client = api_client_for(officer)

    response = client.post(SEARCH, {"query": "merger", "holds": [hold.pk]}, format="json")

    assert response.status_code == 200, response.json()
    assert [hit["body"] for hit in response.json()["hits"]] == [
        "ok, merger it is",
        "merger <b>draft</b> attached",
        "The merger is on",
    ]
    entry = AuditEntry.objects.filter(action=AuditAction.SEARCH).latest("sequence")
    assert entry.parameters["holds"] == [hold.pk]


def test_search_by_an_unknown_hold_is_refused_and_audits_nothing(api_client_for, officer):
    response = api_client_for(officer).post(SEARCH, {"holds": [424242]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_hold"
    assert not AuditEntry.objects.filter(action=AuditAction.SEARCH).exists()
