"""Replies and emoji reactions through the REST API: what each reader sees, what is archived,
and who may not reply, react or read the quote (non-members, walls, secret rooms, newcomers)."""

import pytest
from django.utils import timezone

from archiving.events import Names, event_describe, event_line
from archiving.models import ArchiveRecord
from chat import services
from chat.models import Conversation, Message, Reaction

pytestmark = pytest.mark.django_db

ALICE = {"username": "alice", "display_name": "Alice Martin"}
BOB = {"username": "bob", "display_name": "Bob Chen"}
THUMBS = "\N{THUMBS UP SIGN}"
HEART = "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}"
NAMES = Names({"alice": "Alice Martin", "bob": "Bob Chen", "carol": "Carol Diaz"})


def _direct(a, b) -> Conversation:
    return services.conversation_direct_get_or_create(person=a, other=b)[0]


def _post(client, conversation_id: int, body: str, **fields):
    return client.post(
        f"/api/v1/conversations/{conversation_id}/messages/",
        {"body": body, **fields},
        format="json",
    )


def _lines(conversation_id: int, *events: str) -> list[str]:
    return [
        event_line(event_describe(r, name=NAMES), name=NAMES)
        for r in ArchiveRecord.objects.filter(
            conversation_id=conversation_id, event__in=events
        ).order_by("chain_index")
    ]


def test_a_reply_quotes_its_original_everywhere_and_is_archived(alice, bob, api_client_for):
    ab = _direct(alice, bob)
    original, _ = services.message_post(
        sender=alice, conversation_id=ab.pk, body="Lunch at\n  noon on Friday?"
    )
    bob_api = api_client_for(bob)

    posted = _post(bob_api, ab.pk, "Yes, see you there", reply_to=original.pk)

    quote = {
        "id": original.pk,
        "seq": 1,
        "sender": ALICE,
        "excerpt": "Lunch at noon on Friday?",
        "deleted": False,
    }
    assert posted.status_code == 201, posted.content
    assert posted.json()["reply_to"] == quote
    listed = api_client_for(alice).get(f"/api/v1/conversations/{ab.pk}/messages/").json()
    assert [m["reply_to"] for m in listed["results"]] == [None, quote]
    detail = bob_api.get(f"/api/v1/messages/{posted.json()['id']}/").json()
    assert detail["reply_to"] == quote
    assert _lines(ab.pk, "message.posted", "message.replied") == [
        "#1 Alice Martin: Lunch at\n  noon on Friday?",
        "#2 Bob Chen: Yes, see you there",
        "Bob Chen replied to message #1 by Alice Martin with message #2.",
    ]


def test_a_long_original_is_quoted_by_its_first_words(alice, bob, api_client_for):
    ab = _direct(alice, bob)
    original, _ = services.message_post(sender=alice, conversation_id=ab.pk, body="word " * 100)

    reply = _post(api_client_for(bob), ab.pk, "ok", reply_to=original.pk).json()

    excerpt = reply["reply_to"]["excerpt"]
    assert len(excerpt) == 120
    assert excerpt.startswith("word word")
    assert excerpt.endswith("\N{HORIZONTAL ELLIPSIS}")


def test_deleting_the_original_takes_its_text_out_of_the_quote(alice, bob, api_client_for):
    ab = _direct(alice, bob)
    original, _ = services.message_post(sender=alice, conversation_id=ab.pk, body="secret plan")
    reply, _ = services.message_post(
        sender=bob, conversation_id=ab.pk, body="agreed", reply_to=original.pk
    )

    services.message_delete(actor=alice, message_id=original.pk)

    shown = api_client_for(bob).get(f"/api/v1/messages/{reply.pk}/").json()["reply_to"]
    assert shown == {"id": original.pk, "seq": 1, "sender": ALICE, "excerpt": None, "deleted": True}
    assert "secret plan" not in str(api_client_for(bob).get(f"/api/v1/messages/{reply.pk}/").json())


@pytest.mark.parametrize(
    ("reply_to", "status", "code"),
    [
        ("unknown", 400, "reply_to_not_found"),
        ("other conversation", 400, "reply_to_not_found"),
        ("deleted", 409, "reply_to_deleted"),
        ("text", 400, "invalid"),
        ("zero", 400, "invalid"),
    ],
)
def test_a_reply_to_what_cannot_be_answered_is_refused_and_nothing_is_stored(
    alice, bob, carol, api_client_for, reply_to, status, code
):
    ab, ac = _direct(alice, bob), _direct(alice, carol)
    elsewhere, _ = services.message_post(sender=alice, conversation_id=ac.pk, body="for carol")
    gone, _ = services.message_post(sender=bob, conversation_id=ab.pk, body="oops")
    services.message_delete(actor=bob, message_id=gone.pk)
    value = {
        "unknown": 999_999,
        "other conversation": elsewhere.pk,
        "deleted": gone.pk,
        "text": "abc",
        "zero": 0,
    }[reply_to]
    messages, records = Message.objects.count(), ArchiveRecord.objects.count()

    refused = _post(api_client_for(bob), ab.pk, "answer", reply_to=value)

    assert refused.status_code == status
    assert refused.json()["error"]["code"] == code
    # The refusal says nothing of the other conversation's message.
    assert "for carol" not in refused.content.decode()
    assert (Message.objects.count(), ArchiveRecord.objects.count()) == (messages, records)


def test_a_newcomer_to_a_group_sees_no_quote_of_what_was_said_before_they_came(
    alice, bob, carol, api_client_for
):
    group, _ = services.conversation_create(creator=alice, usernames=["bob"], title="Plans")
    before, _ = services.message_post(sender=alice, conversation_id=group.pk, body="before carol")
    services.participant_add(actor=alice, conversation_id=group.pk, username="carol")
    carol_api = api_client_for(carol)

    reply = _post(api_client_for(bob), group.pk, "re: that", reply_to=before.pk).json()
    refused = _post(carol_api, group.pk, "what was it?", reply_to=before.pk)

    seen = carol_api.get(f"/api/v1/conversations/{group.pk}/messages/").json()["results"]
    assert [m["body"] for m in seen] == ["re: that"]
    assert seen[0]["reply_to"] == {
        "id": before.pk,
        "seq": 1,
        "sender": None,
        "excerpt": None,
        "deleted": False,
    }
    assert carol_api.get(f"/api/v1/messages/{reply['id']}/").json()["reply_to"]["excerpt"] is None
    assert reply["reply_to"]["excerpt"] == "before carol"
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "reply_to_not_found"


def test_reactions_are_added_once_per_person_and_emoji_and_taken_back(alice, bob, api_client_for):
    ab = _direct(alice, bob)
    message, _ = services.message_post(sender=alice, conversation_id=ab.pk, body="shipped")
    url = f"/api/v1/messages/{message.pk}/reactions/"
    alice_api, bob_api = api_client_for(alice), api_client_for(bob)

    first = bob_api.post(url, {"emoji": THUMBS}, format="json")
    again = bob_api.post(url, {"emoji": THUMBS}, format="json")
    alice_api.post(url, {"emoji": THUMBS}, format="json")
    heart = alice_api.post(url, {"emoji": HEART}, format="json")

    assert (first.status_code, again.status_code, heart.status_code) == (201, 200, 201)
    assert first.json()["reactions"] == [{"emoji": THUMBS, "count": 1, "people": ["bob"]}]
    assert again.json()["reactions"] == first.json()["reactions"]
    expected = [
        {"emoji": THUMBS, "count": 2, "people": ["bob", "alice"]},
        {"emoji": HEART, "count": 1, "people": ["alice"]},
    ]
    assert heart.json()["reactions"] == expected
    listed = bob_api.get(f"/api/v1/conversations/{ab.pk}/messages/").json()["results"]
    assert listed[0]["reactions"] == expected

    removed = bob_api.delete(f"{url}{THUMBS}/")
    removed_again = bob_api.delete(f"{url}{THUMBS}/")

    assert (removed.status_code, removed_again.status_code) == (204, 204)
    assert bob_api.get(f"/api/v1/messages/{message.pk}/").json()["reactions"] == [
        {"emoji": THUMBS, "count": 1, "people": ["alice"]},
        {"emoji": HEART, "count": 1, "people": ["alice"]},
    ]
    assert Reaction.objects.count() == 2
    assert _lines(ab.pk, "reaction.added", "reaction.removed") == [
        f"Bob Chen reacted {THUMBS} to message #1 by Alice Martin.",
        f"Alice Martin reacted {THUMBS} to message #1 by Alice Martin.",
        f"Alice Martin reacted {HEART} to message #1 by Alice Martin.",
        f"Bob Chen removed the reaction {THUMBS} from message #1 by Alice Martin.",
    ]


@pytest.mark.parametrize(
    "emoji",
    ["", "ok", ":+1:", THUMBS * 2, f"x{THUMBS}", "a" * 200, 5, None, "\N{ZERO WIDTH JOINER}"],
    ids=["empty", "text", "shortcode", "two", "text-and-emoji", "long", "number", "null", "zwj"],
)
def test_anything_but_one_emoji_is_refused_and_nothing_is_stored(alice, bob, api_client_for, emoji):
    ab = _direct(alice, bob)
    message, _ = services.message_post(sender=alice, conversation_id=ab.pk, body="hi")
    records = ArchiveRecord.objects.count()

    refused = api_client_for(bob).post(
        f"/api/v1/messages/{message.pk}/reactions/", {"emoji": emoji}, format="json"
    )

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] in {"invalid_emoji", "invalid", "blank", "null"}
    assert not Reaction.objects.exists()
    assert Message.objects.get(pk=message.pk).reactions == []
    assert ArchiveRecord.objects.count() == records


def test_taking_back_with_a_bad_emoji_is_a_400(alice, bob, api_client_for):
    ab = _direct(alice, bob)
    message, _ = services.message_post(sender=alice, conversation_id=ab.pk, body="hi")

    refused = api_client_for(bob).delete(f"/api/v1/messages/{message.pk}/reactions/nope/")

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_emoji"


def _room_message(alice, bob, **room):
    conversation = services.room_create(creator=alice, title="Deals", members=[bob], **room)
    message, _ = services.message_post(sender=alice, conversation_id=conversation.pk, body="hi")
    return conversation, message


@pytest.mark.parametrize(
    "who", ["outsider", "secret room outsider", "walled out", "unknown id", "left the group"]
)
def test_who_cannot_read_a_message_cannot_react_to_it_and_learns_nothing(
    alice, bob, carol, api_client_for, who
):
    if who == "outsider":
        message, _ = services.message_post(
            sender=alice, conversation_id=_direct(alice, bob).pk, body="hi"
        )
    elif who == "secret room outsider":
        _, message = _room_message(alice, bob, privacy="secret")
    elif who == "walled out":
        category = services.category_create(name="Deal team")
        room, message = _room_message(alice, bob, category_id=category.pk)
        services.room_member_add(actor=alice, room_id=room.pk, username="carol")
        # The wall goes up; its sweep has not run yet: the wall alone keeps carol out.
        category.denied_people.add(carol)
    elif who == "left the group":
        group, _ = services.conversation_create(
            creator=alice, usernames=["bob", "carol"], title="g"
        )
        message, _ = services.message_post(sender=alice, conversation_id=group.pk, body="hi")
        services.participant_leave(person=carol, conversation_id=group.pk)
    else:
        message = type("Unknown", (), {"pk": 999_999})()
    carol_api = api_client_for(carol)
    records = ArchiveRecord.objects.count()

    added = carol_api.post(
        f"/api/v1/messages/{message.pk}/reactions/", {"emoji": THUMBS}, format="json"
    )
    removed = carol_api.delete(f"/api/v1/messages/{message.pk}/reactions/{THUMBS}/")
    replied = (
        _post(carol_api, message.conversation_id, "re", reply_to=message.pk)
        if who != "unknown id"
        else None
    )

    unknown = {
        "code": "message_not_found",
        "detail": f"Message {message.pk} does not exist or is not yours to see.",
    }
    assert (added.status_code, added.json()["error"]) == (404, unknown)
    assert (removed.status_code, removed.json()["error"]) == (404, unknown)
    if replied is not None:
        assert replied.status_code == 404
        assert replied.json()["error"]["code"] == "conversation_not_found"
    assert not Reaction.objects.exists()
    assert ArchiveRecord.objects.count() == records


def test_a_deleted_message_takes_no_reactions(alice, bob, api_client_for):
    ab = _direct(alice, bob)
    message, _ = services.message_post(sender=alice, conversation_id=ab.pk, body="hi")
    services.message_delete(actor=alice, message_id=message.pk)

    refused = api_client_for(bob).post(
        f"/api/v1/messages/{message.pk}/reactions/", {"emoji": THUMBS}, format="json"
    )

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "message_deleted"
    assert not Reaction.objects.exists()


def test_a_conversation_an_information_barrier_closed_takes_no_reactions(
    alice, bob, api_client_for
):
    ab = _direct(alice, bob)
    message, _ = services.message_post(sender=alice, conversation_id=ab.pk, body="hi")
    Conversation.objects.filter(pk=ab.pk).update(
        posting_closed_at=timezone.now(), posting_closed_reason="Closed by the Research wall."
    )

    refused = api_client_for(bob).post(
        f"/api/v1/messages/{message.pk}/reactions/", {"emoji": THUMBS}, format="json"
    )

    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "conversation_closed",
        "detail": "Closed by the Research wall.",
    }
    assert not Reaction.objects.exists()
