"""IM across the gateway against real Prosody: inbound, replies, refusals, failures, archive."""

import json
import time
import urllib.request

import pytest

from archiving.models import ArchiveEvent, ArchiveRecord
from chat.models import Conversation, Message
from directory.models import Person
from federation.models import OutboundMessage, XmppAddress
from federation.services.inbound import external_person_get_or_create
from tests.e2e.conftest import http_get_json
from tests.federation.prosody import BLOCKED, COMPONENT, EXTERNAL

pytestmark = pytest.mark.django_db(transaction=True)

BOB = f"bob@{EXTERNAL}"


def http_post_json(server, path: str, *, token: str, payload: dict) -> tuple[int, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1:<port>
        server.http_url + path,
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with opener.open(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def test_inbound_message_reaches_parley_person_live_and_reply_goes_back(
    federation, partners, alice, ws_connect, xmpp_login
):
    # given alice online over /ws/ on the second server process and bob logged in to Prosody
    # on a partner domain
    alice_ws = ws_connect(alice, federation.cluster.b)
    bob = xmpp_login("bob")

    # when bob writes to alice@gw.localhost
    bob.message_send(f"alice@{COMPONENT}", "Hello from XMPP")

    # then alice is told of a new external direct conversation holding the message (a client
    # syncs a new conversation: its first message.new may precede the socket's subscription)
    joined = alice_ws.take("conversation.updated")
    assert joined["conversation"]["is_external"] is True
    assert joined["conversation"]["last_seq"] == 1
    alice_ws.send(type="sync", conversation=joined["conversation"]["id"], after_seq=0, ref="s")
    [first] = alice_ws.take("sync.batch")["messages"]
    assert first["body"] == "Hello from XMPP"
    assert first["sender"] == {"username": BOB, "display_name": BOB}
    conversation = Conversation.objects.get(pk=joined["conversation"]["id"])
    assert conversation.kind == "direct"
    assert conversation.is_external is True
    external = Person.objects.get(username=BOB)
    assert external.is_external is True
    assert external.has_usable_password() is False
    assert XmppAddress.objects.get(person=external).jid == BOB

    # when alice replies over /ws/ (the normal message path)
    ack = alice_ws.message_send(conversation=conversation.pk, body="Hi Bob, Alice here", ref="r1")

    # then bob receives it from alice@gw.localhost as a chat message
    reply = bob.take(lambda s: s["kind"] == "message" and s["body"], what="the reply")
    assert reply["type"] == "chat"
    assert reply["from"].split("/")[0] == f"alice@{COMPONENT}"
    assert reply["body"] == "Hi Bob, Alice here"
    # The gateway marks the row sent just after handing the stanza over, so bob can hold the
    # reply a moment before the mark is committed: wait for the mark, not a fixed time.
    outbound = _sent(ack["id"])
    assert outbound.sent_at is not None
    assert outbound.failed_at is None

    # when bob answers, alice receives it live over /ws/
    bob.message_send(f"alice@{COMPONENT}", "Thanks!")
    live = alice_ws.take("message.new", where=lambda f: f["message"]["body"] == "Thanks!")
    assert live["message"]["sender"]["username"] == BOB
    assert live["message"]["delivery_error"] is None

    # and the messages are archived as external under the conversation's chain
    records = ArchiveRecord.objects.filter(
        conversation_id=conversation.pk, event=ArchiveEvent.MESSAGE_POSTED
    ).order_by("chain_index")
    assert [(r.actor_username, r.body, r.is_external) for r in records] == [
        (BOB, "Hello from XMPP", True),
        ("alice", "Hi Bob, Alice here", True),
        (BOB, "Thanks!", True),
    ]


def test_blocked_domain_is_refused_and_nothing_is_stored(
    federation, partners, alice, ws_connect, xmpp_login
):
    alice_ws = ws_connect(alice)
    mallory = xmpp_login("mallory", BLOCKED)

    stanza_id = mallory.message_send(f"alice@{COMPONENT}", "let me in")

    error = mallory.take(lambda s: s["type"] == "error", what="an error")
    assert (error["kind"], error["id"], error["error"]) == ("message", stanza_id, "forbidden")
    assert Person.objects.filter(is_external=True).count() == 0
    assert Message.objects.count() == 0
    assert Conversation.objects.count() == 0
    assert ArchiveRecord.objects.count() == 0
    assert alice_ws.unread == []


def test_domain_not_listed_is_refused_unless_open_federation(
    federation, alice, ws_connect, xmpp_login
):
    # no partner rows at all: external.localhost is not allowed (open federation is off)
    ws_connect(alice)
    bob = xmpp_login("bob")

    stanza_id = bob.message_send(f"alice@{COMPONENT}", "anyone there?")

    error = bob.take(lambda s: s["type"] == "error", what="an error")
    assert (error["id"], error["error"]) == (stanza_id, "not-allowed")
    assert Person.objects.filter(is_external=True).count() == 0
    assert Message.objects.count() == 0


def test_unknown_parley_person_gets_item_not_found(federation, partners, xmpp_login):
    bob = xmpp_login("bob")

    stanza_id = bob.message_send(f"nobody@{COMPONENT}", "hello?")

    error = bob.take(lambda s: s["type"] == "error", what="an error")
    assert (error["id"], error["error"]) == (stanza_id, "item-not-found")
    assert Person.objects.filter(is_external=True).count() == 0
    assert Message.objects.count() == 0


def test_message_over_the_size_limit_is_refused(federation, partners, alice, xmpp_login):
    bob = xmpp_login("bob")

    stanza_id = bob.message_send(f"alice@{COMPONENT}", "x" * (16 * 1024 + 1))

    error = bob.take(lambda s: s["type"] == "error", what="an error")
    assert (error["id"], error["error"]) == (stanza_id, "policy-violation")
    assert Message.objects.count() == 0


def test_undeliverable_message_shows_its_error(federation, partners, alice, ws_connect):
    # given an external contact whose account does not exist on the remote server
    ghost = external_person_get_or_create(jid=f"ghost@{EXTERNAL}")
    alice_ws = ws_connect(alice)
    _, token = alice_ws.person, alice_ws.token
    status, conversation = http_post_json(
        federation.server,
        "/api/v1/conversations/",
        token=token,
        payload={"participants": [ghost.username]},
    )
    assert status == 201
    assert conversation["is_external"] is True

    # when alice sends through the REST API
    status, message = http_post_json(
        federation.server,
        f"/api/v1/conversations/{conversation['id']}/messages/",
        token=token,
        payload={"body": "are you there?", "client_id": "m1"},
    )
    assert status == 201
    assert message["delivery_error"] is None

    # then the XMPP server's bounce comes back as an error on the message, live and in REST
    updated = alice_ws.take(
        "message.updated", where=lambda f: f["message"]["id"] == message["id"], timeout=15
    )
    expected = f"Not delivered to ghost@{EXTERNAL}: service-unavailable"
    assert updated["message"]["delivery_error"].startswith(expected)
    _, page = http_get_json(
        federation.server, f"/api/v1/conversations/{conversation['id']}/messages/", token=token
    )
    assert [m["delivery_error"] for m in page["results"]] == [updated["message"]["delivery_error"]]
    assert OutboundMessage.objects.get(message_id=message["id"]).failed_at is not None


def _sent(message_id: int, *, within: float = 10.0) -> OutboundMessage:
    """Return the message's outbox row once the gateway has marked it sent (or as it is when
    `within` seconds pass, for the assertion to report)."""
    deadline = time.monotonic() + within
    while True:
        row = OutboundMessage.objects.get(message_id=message_id)
        if row.sent_at is not None or time.monotonic() > deadline:
            return row
        time.sleep(0.05)
