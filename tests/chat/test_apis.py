import pytest

from archiving.models import ArchiveRecord
from chat import services
from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db

MESSAGE_FIELDS = {
    "id",
    "conversation",
    "seq",
    "sender",
    "body",
    "created_at",
    "edited_at",
    "deleted",
    "client_id",
    "delivery_error",
    "removed_by",
    "file",
    "reply_to",
    "reactions",
}


def test_posting_one_participant_returns_the_direct_conversation(alice, bob, api_client_for):
    client = api_client_for(alice)

    first = client.post("/api/v1/conversations/", {"participants": ["bob"]}, format="json")
    again = client.post("/api/v1/conversations/", {"participants": ["bob"]}, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["kind"] == "direct"
    assert {p["username"] for p in first.json()["participants"]} == {"alice", "bob"}


def test_posting_two_participants_creates_a_group(alice, bob, carol, api_client_for):
    response = api_client_for(alice).post(
        "/api/v1/conversations/", {"participants": ["bob", "carol"]}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["kind"] == "group"
    assert response.json()["participant_count"] == 3


def test_conversation_with_unknown_person_is_a_404_and_creates_nothing(alice, api_client_for):
    response = api_client_for(alice).post(
        "/api/v1/conversations/", {"participants": ["ghost"]}, format="json"
    )

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "person_not_found",
        "detail": "No active person named ghost.",
    }
    assert not Conversation.objects.exists()


def test_message_post_then_list_after_seq(alice, bob, api_client_for):
    client = api_client_for(alice)
    conversation = client.post("/api/v1/conversations/", {"participants": ["bob"]}, format="json")
    url = f"/api/v1/conversations/{conversation.json()['id']}/messages/"

    posted = [
        client.post(url, {"body": f"m{i}", "client_id": f"c{i}"}, format="json") for i in range(3)
    ]
    listed = api_client_for(bob).get(url, {"after_seq": 1})

    assert [p.status_code for p in posted] == [201, 201, 201]
    assert set(posted[0].json()) == MESSAGE_FIELDS
    assert posted[0].json()["sender"] == {"username": "alice", "display_name": "Alice Martin"}
    assert [m["seq"] for m in listed.json()["results"]] == [2, 3]
    assert [m["body"] for m in listed.json()["results"]] == ["m1", "m2"]
    assert listed.json()["has_more"] is False


def test_message_retry_with_same_client_id_is_200_with_the_same_message(alice, bob, api_client_for):
    client = api_client_for(alice)
    conversation_id = client.post(
        "/api/v1/conversations/", {"participants": ["bob"]}, format="json"
    ).json()["id"]
    url = f"/api/v1/conversations/{conversation_id}/messages/"

    first = client.post(url, {"body": "once", "client_id": "k1"}, format="json")
    retry = client.post(url, {"body": "once", "client_id": "k1"}, format="json")

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    assert Message.objects.count() == 1


def test_history_pages_backwards_with_before_seq(alice, bob, api_client_for):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    for i in range(7):
        services.message_post(sender=alice, conversation_id=conversation.pk, body=f"m{i}")
    url = f"/api/v1/conversations/{conversation.pk}/messages/"

    page = api_client_for(bob).get(url, {"before_seq": 6, "limit": 3}).json()

    assert [m["seq"] for m in page["results"]] == [3, 4, 5]
    assert page["has_more"] is True


def test_non_member_gets_404_for_messages_and_nothing_is_stored(alice, bob, carol, api_client_for):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    url = f"/api/v1/conversations/{conversation.pk}/messages/"
    client = api_client_for(carol)

    read = client.get(url)
    write = client.post(url, {"body": "let me in"}, format="json")

    assert (read.status_code, write.status_code) == (404, 404)
    assert write.json()["error"]["code"] == "conversation_not_found"
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"body": ""}, 400, "empty_message"),
        ({"body": "x" * 20000}, 400, "message_too_large"),
        ({"body": "ok", "client_id": "c" * 65}, 400, "invalid"),
        ({"body": 12}, 400, "invalid"),
    ],
)
def test_bad_message_posts_are_clear_4xx(alice, bob, api_client_for, payload, status, code):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)

    response = api_client_for(alice).post(
        f"/api/v1/conversations/{conversation.pk}/messages/", payload, format="json"
    )

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert not Message.objects.exists()


def test_bad_query_parameters_are_400(alice, bob, api_client_for):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)

    response = api_client_for(alice).get(
        f"/api/v1/conversations/{conversation.pk}/messages/", {"after_seq": "abc"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "detail": "after_seq must be an integer.",
    }


def test_adding_a_third_person_to_a_direct_conversation_returns_a_new_group(
    alice, bob, carol, api_client_for
):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    services.message_post(sender=alice, conversation_id=conversation.pk, body="private")

    response = api_client_for(alice).post(
        f"/api/v1/conversations/{conversation.pk}/participants/",
        {"username": "carol"},
        format="json",
    )
    carol_view = api_client_for(carol).get(f"/api/v1/conversations/{conversation.pk}/messages/")

    assert response.status_code == 201
    assert response.json()["id"] != conversation.pk
    assert response.json()["kind"] == "group"
    assert {p["username"] for p in response.json()["participants"]} == {"alice", "bob", "carol"}
    assert carol_view.status_code == 404


def test_edit_and_delete_own_message(alice, bob, api_client_for):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    message, _ = services.message_post(sender=alice, conversation_id=conversation.pk, body="v1")
    client = api_client_for(alice)

    edited = client.patch(f"/api/v1/messages/{message.pk}/", {"body": "v2"}, format="json")
    deleted = client.delete(f"/api/v1/messages/{message.pk}/")

    assert edited.status_code == 200
    assert edited.json()["body"] == "v2"
    assert edited.json()["edited_at"] is not None
    assert deleted.status_code == 200
    assert (deleted.json()["deleted"], deleted.json()["body"]) == (True, "")
    assert list(
        ArchiveRecord.objects.filter(message_id=message.pk)
        .order_by("chain_index")
        .values_list("event", "body")
    ) == [("message.posted", "v1"), ("message.edited", "v2"), ("message.deleted", "")]


def test_editing_someone_elses_message_is_403_and_changes_nothing(alice, bob, api_client_for):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    message, _ = services.message_post(sender=alice, conversation_id=conversation.pk, body="v1")

    response = api_client_for(bob).patch(
        f"/api/v1/messages/{message.pk}/", {"body": "hijack"}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_sender"
    message.refresh_from_db()
    assert message.body == "v1"


def test_unread_counts_follow_read_markers(alice, bob, api_client_for):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    for i in range(4):
        services.message_post(sender=alice, conversation_id=conversation.pk, body=f"m{i}")
    client = api_client_for(bob)

    before = client.get("/api/v1/conversations/").json()["results"][0]
    client.post(f"/api/v1/conversations/{conversation.pk}/read/", {"seq": 3}, format="json")
    after = client.get("/api/v1/conversations/").json()["results"][0]

    assert (before["unread"], after["unread"]) == (4, 1)
    assert after["last_read_seq"] == 3


def test_search_finds_my_messages_with_highlight(
    alice, bob, carol, api_client_for, django_capture_on_commit_callbacks
):
    mine, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    theirs, _ = services.conversation_direct_get_or_create(person=bob, other=carol)
    with django_capture_on_commit_callbacks(execute=True):  # runs the indexing task
        services.message_post(sender=alice, conversation_id=mine.pk, body="The <quarterly> report")
        services.message_post(sender=bob, conversation_id=theirs.pk, body="quarterly secrets")

    response = api_client_for(alice).get("/api/v1/search/", {"q": "quarterly"})

    results = response.json()["results"]
    assert [r["body"] for r in results] == ["The <quarterly> report"]
    assert results[0]["highlight"] == "The &lt;<mark>quarterly</mark>&gt; report"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"quarterly report"', ["quarterly report due"]),
        ("quart*", ["quarterly report due", "quarterly numbers"]),
        ("report OR numbers", ["quarterly report due", "quarterly numbers"]),
        ("quarterly -numbers", ["quarterly report due"]),
        ("report due", ["quarterly report due"]),
    ],
)
def test_search_query_language(
    alice, bob, api_client_for, django_capture_on_commit_callbacks, query, expected
):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    with django_capture_on_commit_callbacks(execute=True):
        for body in ["quarterly report due", "quarterly numbers", "lunch?"]:
            services.message_post(sender=alice, conversation_id=conversation.pk, body=body)

    response = api_client_for(bob).get("/api/v1/search/", {"q": query})

    assert sorted(r["body"] for r in response.json()["results"]) == sorted(expected)


@pytest.mark.parametrize("query", ['"unclosed', "", "OR", "-only"])
def test_invalid_search_is_a_400(alice, api_client_for, query):
    response = api_client_for(alice).get("/api/v1/search/", {"q": query})

    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"invalid_query", "invalid"}


def test_search_does_not_show_a_newcomer_earlier_group_messages(
    alice, bob, carol, make_person, api_client_for, django_capture_on_commit_callbacks
):
    group, _ = services.conversation_create(creator=alice, usernames=["bob", "carol"])
    with django_capture_on_commit_callbacks(execute=True):
        services.message_post(sender=alice, conversation_id=group.pk, body="merger codename falcon")
    assert api_client_for(bob).get("/api/v1/search/", {"q": "falcon"}).json()["results"]
    make_person("dave")
    services.participant_add(actor=alice, conversation_id=group.pk, username="dave")
    from directory.models import Person

    response = api_client_for(Person.objects.get(username="dave")).get(
        "/api/v1/search/", {"q": "falcon"}
    )

    assert response.json()["results"] == []


def test_room_listings_give_a_member_count_not_the_member_list(
    alice, make_person, api_client_for, django_assert_max_num_queries
):
    services.room_create(creator=alice, title="Floor", members=[make_person() for _ in range(25)])
    client = api_client_for(alice)

    with django_assert_max_num_queries(8):  # flat whatever the number of members
        listed = client.get("/api/v1/conversations/").json()["results"]

    assert [(c["kind"], c["participants"], c["participant_count"]) for c in listed] == [
        ("room", [], 26)
    ]
