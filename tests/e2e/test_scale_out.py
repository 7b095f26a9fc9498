"""Parley scaled out: two server processes, one Redis, one PostgreSQL, a real Celery worker.

Each test connects real WebSocket clients to different uvicorn processes and checks what
DESIGN.md section 3 promises: an ack means stored, every socket of the conversation gets the
message whatever process it is on, after-commit work runs on the worker, and a client that
was away resyncs by seq without gaps.
"""

import time
import uuid
from urllib.parse import quote

import pytest

from archiving.models import ArchiveIndexOutbox
from chat import services as chat
from chat.models import Message
from tests.e2e.conftest import http_get_json

pytestmark = pytest.mark.e2e

SEARCH_TIMEOUT = 15.0


def _word() -> str:
    """Return a word no other message contains (letters only, so the tokenizer keeps it whole)."""
    return "quokka" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:10])


def _summary(messages: list[dict]) -> list[tuple]:
    return [
        (m["conversation"], m["seq"], m["id"], m["sender"]["username"], m["body"]) for m in messages
    ]


@pytest.mark.django_db(transaction=True)
def test_message_sent_on_one_server_reaches_a_socket_on_the_other(
    cluster, connect_client, alice, bob
):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    alice_ws = connect_client(alice, cluster.a)
    bob_ws = connect_client(bob, cluster.b)
    assert [c["id"] for c in bob_ws.hello["conversations"]] == [conversation.pk]
    assert bob_ws.hello["conversations"][0]["last_seq"] == 0

    ack = alice_ws.message_send(conversation=conversation.pk, body="hello from A", ref="m1")

    stored = Message.objects.get(conversation=conversation)
    assert ack == {
        "type": "message.ack",
        "ref": "m1",
        "id": stored.pk,
        "seq": 1,
        "conversation": conversation.pk,
        "client_id": "m1",
    }
    new = bob_ws.take("message.new")
    assert new["message"] == {
        "id": stored.pk,
        "conversation": conversation.pk,
        "seq": 1,
        "sender": {"username": "alice", "display_name": "Alice Martin"},
        "body": "hello from A",
        "created_at": new["message"]["created_at"],
        "edited_at": None,
        "deleted": False,
        "client_id": "m1",
        "delivery_error": None,
        "removed_by": None,
        "file": None,
        "reply_to": None,
        "reactions": [],
    }
    assert new["message"]["created_at"].endswith("Z")
    assert bob_ws.unread == []


@pytest.mark.django_db(transaction=True)
def test_indexing_after_commit_runs_on_the_celery_worker_and_search_on_the_other_server_finds_it(
    cluster, connect_client, alice, bob
):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    alice_ws = connect_client(alice, cluster.a)
    bob_ws = connect_client(bob, cluster.b)
    word = _word()

    ack = alice_ws.message_send(conversation=conversation.pk, body=f"the {word} report", ref="s1")
    assert bob_ws.take("message.new")["message"]["id"] == ack["id"]

    # The servers run with PARLEY_TASKS_EAGER=0: only the worker can empty the outbox.
    deadline = time.monotonic() + SEARCH_TIMEOUT
    while True:
        status, page = http_get_json(
            cluster.b, f"/api/v1/search/?q={quote(word)}", token=bob_ws.token
        )
        assert status == 200
        if page["results"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(r["id"], r["seq"], r["body"]) for r in page["results"]] == [
        (ack["id"], 1, f"the {word} report")
    ], f"not indexed within {SEARCH_TIMEOUT} s\n{cluster.logs()}"
    assert page["results"][0]["highlight"] == f"the <mark>{word}</mark> report"
    assert page["next_before"] is None
    assert not ArchiveIndexOutbox.objects.filter(message_id__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_reconnecting_client_resyncs_exactly_the_messages_it_missed_in_seq_order(
    cluster, connect_client, alice, bob
):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    alice_ws = connect_client(alice, cluster.a)
    # alice's second tab, on bob's server: it shows when that server has had every broadcast
    alice_on_b = connect_client(alice, cluster.b)
    bob_ws = connect_client(bob, cluster.b)
    first = alice_ws.message_send(conversation=conversation.pk, body="before the gap", ref="r0")
    last_seen = bob_ws.take("message.new")["message"]
    assert (last_seen["id"], last_seen["seq"]) == (first["id"], 1)

    bob_ws.close()
    missed = [
        alice_ws.message_send(conversation=conversation.pk, body=f"missed {n}", ref=f"r{n}")
        for n in range(1, 6)
    ]
    assert [a["seq"] for a in missed] == [2, 3, 4, 5, 6]
    # An ack leaves before its broadcast has crossed the channel layer, so a socket opened at
    # once can still be handed a message.new of a message its hello already counts (a client
    # drops it by seq). Wait until server b has dispatched each of them, so bob comes back
    # after everything he missed.
    for ack in missed:
        alice_on_b.take("message.new", where=lambda f, id_=ack["id"]: f["message"]["id"] == id_)

    bob_again = connect_client(bob, cluster.b, token=bob_ws.token)
    listed = {c["id"]: c for c in bob_again.hello["conversations"]}
    assert list(listed) == [conversation.pk]
    assert listed[conversation.pk]["last_seq"] == 6
    bob_again.send(
        type="sync", conversation=conversation.pk, after_seq=last_seen["seq"], ref="sync"
    )
    batch = bob_again.take("sync.batch", ref="sync")

    assert batch["conversation"] == conversation.pk
    assert batch["has_more"] is False
    assert batch["last_seq"] == 6
    assert [(m["seq"], m["id"], m["body"]) for m in batch["messages"]] == [
        (2 + n, ack["id"], f"missed {n + 1}") for n, ack in enumerate(missed)
    ]
    assert bob_again.unread == []  # nothing sent while away arrives as message.new


@pytest.mark.django_db(transaction=True)
def test_group_and_room_members_on_both_servers_get_every_message_once_in_seq_order(
    cluster, connect_client, make_person, alice, bob, carol
):
    dave = make_person("dave", display_name="Dave Okafor")
    group, _ = chat.conversation_create(creator=alice, usernames=["bob", "carol"], title="Launch")
    room = chat.room_create(creator=alice, title="Operations", members=[bob, carol, dave])
    alice_ws = connect_client(alice, cluster.a)
    bob_ws = connect_client(bob, cluster.b)
    carol_ws = connect_client(carol, cluster.a)
    dave_on_a = connect_client(dave, cluster.a)
    dave_on_b = connect_client(dave, cluster.b)  # a second tab, through the other server

    expected_group = []
    for n in range(20):  # two senders on different servers, interleaved
        sender = alice_ws if n % 2 == 0 else bob_ws
        body = f"group {n + 1} from {sender.person.username}"
        ack = sender.message_send(conversation=group.pk, body=body, ref=f"g{n + 1}")
        assert ack["seq"] == n + 1
        expected_group.append((group.pk, n + 1, ack["id"], sender.person.username, body))
    room_ack = bob_ws.message_send(conversation=room.pk, body="room news", ref="room1")
    # A last room message sent after the others: anything duplicated would arrive before it.
    closing = carol_ws.message_send(conversation=room.pk, body="room closing", ref="room2")
    expected_room = [
        (room.pk, 1, room_ack["id"], "bob", "room news"),
        (room.pk, 2, closing["id"], "carol", "room closing"),
    ]

    for member in (alice_ws, bob_ws, carol_ws):
        received = _summary(member.messages_until(closing["id"]))
        assert received == expected_group + expected_room, (
            f"{member.person.username} on {member.server.name}"
        )
    for tab in (dave_on_a, dave_on_b):
        assert _summary(tab.messages_until(closing["id"])) == expected_room, tab.server.name
    for client in (alice_ws, bob_ws, carol_ws, dave_on_a, dave_on_b):
        assert client.unread == []
