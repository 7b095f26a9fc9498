"""@mentions and read receipts through the REST API: who a mention may name, the unread
mention count and how reading resets it, and what the archive says."""

import pytest

from archiving.events import Names, event_describe, event_line
from archiving.models import ArchiveRecord
from chat import services
from chat.models import Conversation, MessageMention

pytestmark = pytest.mark.django_db

BOB = {"username": "bob", "display_name": "Bob Chen"}
CAROL = {"username": "carol", "display_name": "Carol Diaz"}
ALICE = {"username": "alice", "display_name": "Alice Martin"}
NAMES = Names({"alice": "Alice Martin", "bob": "Bob Chen", "carol": "Carol Diaz"})


def _group(alice, *usernames: str) -> Conversation:
    return services.conversation_create(creator=alice, usernames=list(usernames), title="Desk")[0]


def _lines(conversation_id: int, event: str) -> list[str]:
    return [
        event_line(event_describe(r, name=NAMES), name=NAMES)
        for r in ArchiveRecord.objects.filter(conversation_id=conversation_id, event=event)
    ]


def _entry(client, conversation_id: int) -> dict:
    listed = {c["id"]: c for c in client.get("/api/v1/conversations/").json()["results"]}
    return listed[conversation_id]


def test_a_mention_names_only_people_who_can_read_the_conversation(
    alice, bob, carol, make_person, api_client_for
):
    make_person("dave")  # exists, not in the conversation
    group = _group(alice, "bob", "carol")

    posted = api_client_for(alice).post(
        f"/api/v1/conversations/{group.pk}/messages/",
        {"body": "@Carol and @bob.: see @dave, @ghost, mail bob@example.com, @carol again"},
        format="json",
    )

    assert posted.status_code == 201
    assert posted.json()["mentions"] == ["carol", "bob"]
    assert sorted(MessageMention.objects.values_list("person__username", flat=True)) == [
        "bob",
        "carol",
    ]
    assert _lines(group.pk, "message.mentioned") == [
        "Alice Martin mentioned Carol Diaz and Bob Chen in message #1."
    ]


@pytest.mark.parametrize("where", ["secret room", "walled out", "left the group"])
def test_people_who_cannot_read_a_room_or_group_are_never_mentioned(
    alice, bob, carol, api_client_for, where
):
    if where == "secret room":
        conversation = services.room_create(
            creator=alice, title="Project X", privacy="secret", members=[bob]
        )
    elif where == "walled out":
        category = services.category_create(name="Deal team")
        conversation = services.room_create(
            creator=alice, title="Deals", category_id=category.pk, members=[bob, carol]
        )
        # The wall goes up; its sweep has not run yet: the wall alone keeps carol out.
        category.denied_people.add(carol)
    else:
        conversation = _group(alice, "bob", "carol")
        services.participant_leave(person=carol, conversation_id=conversation.pk)

    message, _ = services.message_post(
        sender=alice, conversation_id=conversation.pk, body="@carol @bob have a look"
    )

    assert message.mentions == ["bob"]
    assert list(MessageMention.objects.values_list("person__username", flat=True)) == ["bob"]
    carols = api_client_for(carol).get("/api/v1/conversations/").json()["results"]
    assert conversation.pk not in {c["id"] for c in carols}


def test_unread_mentions_are_counted_per_conversation_and_reading_resets_them(
    alice, bob, carol, api_client_for
):
    group = _group(alice, "bob", "carol")
    bob_api = api_client_for(bob)
    for body in ("@bob one", "nothing for bob", "@carol only", "@bob two", "@bob three"):
        services.message_post(sender=alice, conversation_id=group.pk, body=body)
    gone = services.message_post(sender=alice, conversation_id=group.pk, body="@bob gone")[0]
    services.message_delete(actor=alice, message_id=gone.pk)

    assert _entry(bob_api, group.pk)["mention_count"] == 3
    assert _entry(api_client_for(carol), group.pk)["mention_count"] == 1
    assert bob_api.get(f"/api/v1/conversations/{group.pk}/").json()["mention_count"] == 3

    read = bob_api.post(f"/api/v1/conversations/{group.pk}/read/", {"seq": 4}, format="json")

    assert read.json()["mention_count"] == 1
    assert _entry(bob_api, group.pk)["mention_count"] == 1
    bob_api.post(f"/api/v1/conversations/{group.pk}/read/", {"seq": 6}, format="json")
    assert _entry(bob_api, group.pk)["mention_count"] == 0
