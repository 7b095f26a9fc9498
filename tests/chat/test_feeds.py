"""Hashtags and topic feeds: indexing, matching on the write path, unread counts, matches read
through the owner's current rights."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.models import Category, Feed, FeedMatch, MessageHashtag
from directory.models import Department

pytestmark = pytest.mark.django_db


def post(person, room, body: str):
    return services.message_post(sender=person, conversation_id=room.pk, body=body)[0]


def test_hashtags_are_extracted_lower_case_and_indexed_and_reindexed_on_edit(alice, bob):
    room = services.room_create(creator=alice, title="R", members=[bob])

    message = post(alice, room, "#Rates up, #rates again, not#this, #FX_desk!")
    first = sorted(MessageHashtag.objects.filter(message=message).values_list("tag", flat=True))
    services.message_edit(editor=alice, message_id=message.pk, body="now #credit")
    second = list(MessageHashtag.objects.filter(message=message).values_list("tag", flat=True))

    assert first == ["fx_desk", "rates"]
    assert second == ["credit"]


def test_a_matching_message_counts_as_unread_and_is_listed(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="Rates room", members=[bob])
    client = api_client_for(bob)
    created = client.post(
        "/api/v1/feeds/", {"name": "Rates", "hashtags": ["#Rates"]}, format="json"
    ).json()

    hit = post(alice, room, "hike priced in #rates")
    post(alice, room, "nothing to see")
    post(bob, room, "my own #rates message")  # one's own messages do not notify
    feeds = client.get("/api/v1/feeds/").json()
    matches = client.get(f"/api/v1/feeds/{created['id']}/matches/").json()
    read = client.post(f"/api/v1/feeds/{created['id']}/read/").json()

    assert created == {
        "id": created["id"],
        "name": "Rates",
        "words": [],
        "hashtags": ["rates"],
        "rooms": [],
        "authors": [],
        "unread": 0,
    }
    assert [(f["name"], f["unread"]) for f in feeds["results"]] == [("Rates", 1)]
    assert [(m["id"], m["conversation_title"]) for m in matches["results"]] == [
        (hit.pk, "Rates room")
    ]
    assert read["unread"] == 0


def test_every_non_empty_criterion_must_match(alice, bob, carol):
    room = services.room_create(creator=alice, title="R", members=[bob, carol])
    other = services.room_create(creator=alice, title="O", members=[bob, carol])
    feed = services.feed_create(
        owner=bob, name="f", words=["Swap"], rooms=[room.pk], authors=["alice"]
    )

    post(alice, room, "swap spreads")  # match
    post(alice, other, "swap spreads")  # wrong room
    post(carol, room, "swap spreads")  # wrong author
    post(alice, room, "spreads only")  # no word

    assert list(
        FeedMatch.objects.filter(feed=feed).values_list("message__body", "message__conversation")
    ) == [("swap spreads", room.pk)]
    assert Feed.objects.get(pk=feed.pk).unread_count == 1


def test_messages_of_rooms_the_owner_cannot_read_never_match(alice, bob):
    secret = services.room_create(creator=alice, title="S", privacy="secret")
    feed = services.feed_create(owner=bob, name="f", words=["merger"])

    post(alice, secret, "merger talk")

    assert FeedMatch.objects.filter(feed=feed).count() == 0
    assert Feed.objects.get(pk=feed.pk).unread_count == 0


def test_matches_are_hidden_once_a_wall_keeps_the_owner_out(alice, bob, api_client_for):
    research = Department.objects.create(name="Research")
    category = services.category_create(name="Trading")
    room = services.room_create(creator=alice, title="R", category_id=category.pk, members=[bob])
    feed = services.feed_create(owner=bob, name="f", words=["merger"])
    post(alice, room, "merger talk")
    client = api_client_for(bob)
    before = client.get(f"/api/v1/feeds/{feed.pk}/matches/").json()

    bob.department = research
    bob.save()
    Category.objects.get(pk=category.pk).denied_departments.add(research)
    after = client.get(f"/api/v1/feeds/{feed.pk}/matches/").json()

    assert [m["body"] for m in before["results"]] == ["merger talk"]
    assert after["results"] == []


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"name": "empty"}, 400, "invalid"),
        ({"name": "x", "rooms": [999999]}, 404, "room_not_found"),
        ({"name": "x", "authors": ["nobody"]}, 404, "person_not_found"),
        ({"name": "x", "hashtags": ["#no spaces"]}, 400, "invalid"),
        ({"name": "x", "words": "notalist"}, 400, "invalid"),
    ],
)
def test_bad_feeds_are_refused_and_nothing_is_stored(alice, api_client_for, payload, status, code):
    response = api_client_for(alice).post("/api/v1/feeds/", payload, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert Feed.objects.count() == 0


def test_another_persons_feed_is_404(alice, bob, api_client_for):
    feed = services.feed_create(owner=alice, name="f", words=["x"])

    responses = [
        api_client_for(bob).get(f"/api/v1/feeds/{feed.pk}/matches/"),
        api_client_for(bob).post(f"/api/v1/feeds/{feed.pk}/read/"),
        api_client_for(bob).delete(f"/api/v1/feeds/{feed.pk}/"),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert Feed.objects.count() == 1


def test_matching_cost_does_not_grow_with_the_number_of_feeds(alice, bob, make_person):
    room = services.room_create(creator=alice, title="R", members=[bob])
    post(alice, room, "warm-up")
    with CaptureQueriesContext(connection) as without_feeds:
        post(alice, room, "plain words here")
    owners = [make_person() for _ in range(5)]
    for i in range(200):
        services.feed_create(
            owner=owners[i % 5], name=f"f{i}", words=[f"topic{i}"], hashtags=[f"t{i}"]
        )

    with CaptureQueriesContext(connection) as with_feeds:
        post(alice, room, "plain words again")

    assert len(with_feeds) == len(without_feeds)


def test_a_room_id_beyond_bigint_is_a_clear_400(alice, api_client_for):
    response = api_client_for(alice).post(
        "/api/v1/feeds/", {"name": "x", "rooms": [2**70]}, format="json"
    )

    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")
    assert Feed.objects.count() == 0


def test_matching_cost_does_not_grow_with_the_number_of_matching_feeds(alice, make_person):
    owners = [make_person() for _ in range(5)]
    room = services.room_create(creator=alice, title="R", members=owners)
    services.feed_create(owner=owners[0], name="one", words=["rates"])
    post(alice, room, "warm-up")
    with CaptureQueriesContext(connection) as one_feed:
        post(alice, room, "rates up")
    for i in range(100):
        services.feed_create(owner=owners[i % 5], name=f"f{i}", words=["rates"])

    with CaptureQueriesContext(connection) as many_feeds:
        post(alice, room, "rates down")

    assert len(many_feeds) == len(one_feed)
    assert FeedMatch.objects.filter(message__body="rates down").count() == 101


def test_a_candidate_feed_that_does_not_fully_match_costs_no_reader_checks(alice, bob):
    category = services.category_create(name="Trading")  # a category: walls would be read
    room = services.room_create(creator=alice, title="R", category_id=category.pk, members=[bob])
    post(alice, room, "warm-up")
    with CaptureQueriesContext(connection) as without_feeds:
        post(alice, room, "plain words here")
    # a candidate by its word, but its hashtag is missing from the message
    services.feed_create(owner=bob, name="f", words=["plain"], hashtags=["rates"])

    with CaptureQueriesContext(connection) as with_candidate:
        post(alice, room, "plain words again")

    assert len(with_candidate) == len(without_feeds) + 1  # only the Feed rows are read
    assert FeedMatch.objects.count() == 0
