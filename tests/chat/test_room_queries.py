"""Room read paths stay flat in queries as a room grows (10 vs 200 messages and members)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.models import Message

pytestmark = pytest.mark.django_db


def room_of(make_person, *, size: int, messages: int, name: str):
    """A room of size members (the manager first) holding messages, and its manager."""
    manager = make_person(f"{name}-mgr")
    people = [make_person(f"{name}-{i}") for i in range(size - 1)]
    room = services.room_create(creator=manager, title=name, members=people)
    services.message_post(sender=manager, conversation_id=room.pk, body="first #tag")
    Message.objects.bulk_create(
        Message(
            conversation=room,
            seq=seq,
            sender=people[seq % len(people)],
            body=f"message {seq}",
            client_id=f"{name}-{seq}",
            created_at=room.created_at,
        )
        for seq in range(2, messages + 1)
    )
    room.last_seq = messages
    room.save(update_fields=["last_seq"])
    return room, manager


def queries(client, url: str, params: dict) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200, response.content
    return len(captured), response.json()


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("conversations/{id}/messages/", {"after_seq": 0, "limit": 50}),
        ("conversations/{id}/messages/", {"before_seq": 9, "limit": 50}),
        ("rooms/{id}/members/", {}),
        ("rooms/{id}/", {}),
        ("rooms/", {"q": "room"}),
    ],
)
def test_room_reads_take_the_same_queries_at_10_and_200(
    make_person, api_client_for, django_assert_num_queries, path, params
):
    # given a small and a big room
    small, small_manager = room_of(make_person, size=10, messages=10, name="room-small")
    big, big_manager = room_of(make_person, size=200, messages=200, name="room-big")
    small_client, big_client = api_client_for(small_manager), api_client_for(big_manager)
    # Warm-up: a token's first use of the minute also records last_used_at. (Not the measured
    # page itself: a second view of the same history page is only counted, not archived.)
    queries(small_client, "/api/v1/me/", {})
    queries(big_client, "/api/v1/me/", {})

    # when
    count, small_page = queries(small_client, "/api/v1/" + path.format(id=small.pk), params)

    # then the big room takes exactly as many
    with django_assert_num_queries(count):
        big_page = big_client.get("/api/v1/" + path.format(id=big.pk), params).json()
    if "results" in small_page and path.startswith("conversations"):
        assert len(small_page["results"]) == (10 if "after_seq" in params else 8)
        assert len(big_page["results"]) == (50 if "after_seq" in params else 8)
    if path == "rooms/{id}/members/":
        assert (len(small_page["results"]), len(big_page["results"])) == (10, 200)
