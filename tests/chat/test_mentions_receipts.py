"""@mentions and read receipts through the REST API: who a mention may name, the unread
mention count and how reading resets it, how far the others have read (read_by) and who may
not learn it (blocked people, privacy mode), and what the archive says."""

import pytest

from archiving.events import Names, event_describe, event_line
from archiving.models import ArchiveRecord
from chat import services
from chat.models import Conversation, MessageMention
from presence import services as presence

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


def test_read_by_says_how_far_the_others_have_read_and_reads_are_archived(
    alice, bob, carol, api_client_for
):
    group = _group(alice, "bob", "carol")
    for n in range(3):
        services.message_post(sender=alice, conversation_id=group.pk, body=f"m{n}")
    bob_api = api_client_for(bob)

    bob_api.post(f"/api/v1/conversations/{group.pk}/read/", {"seq": 2}, format="json")
    bob_api.post(f"/api/v1/conversations/{group.pk}/read/", {"seq": 1}, format="json")  # back

    seen = api_client_for(alice).get(f"/api/v1/conversations/{group.pk}/").json()
    assert seen["read_by"] == [{"user": BOB, "seq": 2}, {"user": CAROL, "seq": 0}]
    assert api_client_for(bob).get(f"/api/v1/conversations/{group.pk}/").json()["read_by"] == [
        {"user": ALICE, "seq": 3},
        {"user": CAROL, "seq": 0},
    ]
    assert _lines(group.pk, "conversation.read") == [
        "Bob Chen read the conversation up to message #2."
    ]


def test_rooms_have_no_read_receipts(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="Deals", members=[bob])
    services.message_post(sender=alice, conversation_id=room.pk, body="hi")

    api_client_for(bob).post(f"/api/v1/conversations/{room.pk}/read/", {"seq": 1}, format="json")

    assert "read_by" not in api_client_for(alice).get(f"/api/v1/conversations/{room.pk}/").json()
    assert not ArchiveRecord.objects.filter(event="conversation.read").exists()


def test_someone_who_blocked_me_or_hides_in_privacy_mode_shows_me_no_read_position(
    alice, bob, carol, api_client_for
):
    group = _group(alice, "bob", "carol")
    services.message_post(sender=alice, conversation_id=group.pk, body="m")
    services.conversation_mark_read(person=bob, conversation_id=group.pk, seq=1)
    services.conversation_mark_read(person=carol, conversation_id=group.pk, seq=1)
    presence.contact_add(owner=bob, username="alice", relationship="blocked")
    presence.presence_set(person=carol, is_privacy_mode=True)
    alice_api = api_client_for(alice)

    hidden = alice_api.get(f"/api/v1/conversations/{group.pk}/").json()["read_by"]
    presence.contact_add(owner=carol, username="alice", relationship="colleagues")
    listed = alice_api.get(f"/api/v1/conversations/{group.pk}/").json()["read_by"]

    assert hidden == []
    assert listed == [{"user": CAROL, "seq": 1}]
    # Bob blocked alice, not carol: carol still sees how far bob read.
    assert {"user": BOB, "seq": 1} in api_client_for(carol).get(
        f"/api/v1/conversations/{group.pk}/"
    ).json()["read_by"]


def test_a_non_member_learns_nothing_of_read_positions(alice, bob, carol, api_client_for):
    direct, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    records = ArchiveRecord.objects.count()

    detail = api_client_for(carol).get(f"/api/v1/conversations/{direct.pk}/")
    read = api_client_for(carol).post(
        f"/api/v1/conversations/{direct.pk}/read/", {"seq": 1}, format="json"
    )

    assert (detail.status_code, read.status_code) == (404, 404)
    assert detail.json()["error"]["code"] == "conversation_not_found"
    assert ArchiveRecord.objects.count() == records
