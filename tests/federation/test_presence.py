"""Presence both ways across the gateway against real Prosody, after the privacy projection."""

import json
import time
import urllib.request
from urllib.parse import quote

import pytest

from federation.models import Subscription
from federation.services.inbound import external_person_get_or_create
from presence.models import Contact
from tests.federation.prosody import COMPONENT, EXTERNAL

pytestmark = pytest.mark.django_db(transaction=True)

BOB = f"bob@{EXTERNAL}"
DAVE = f"dave@{EXTERNAL}"
ERIN = f"erin@{EXTERNAL}"  # each test its own XMPP user: Prosody keeps rosters
ALICE = f"alice@{COMPONENT}"


def http_json(server, method: str, path: str, *, token: str, payload: dict) -> tuple[int, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1:<port>
        server.http_url + path,
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    with opener.open(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def from_alice(kind: str, **fields):
    def matches(stanza: dict) -> bool:
        return (
            stanza["kind"] == "presence"
            and stanza["from"].split("/")[0] == ALICE
            and stanza["type"] == kind
            and all(stanza[key] == value for key, value in fields.items())
        )

    return matches


def test_external_subscriber_sees_parley_presence_at_the_external_level(
    federation, partners, alice, ws_connect, xmpp_login
):
    # given bob on a partner domain, and alice offline
    bob = xmpp_login("bob")

    # when bob asks for alice's presence
    bob.presence_send(pto=ALICE, ptype="subscribe")

    # then he is authorised (his server's roster says so), sees her offline, and she has him
    # as an external contact
    bob.roster_wait(ALICE, {"to", "both"})
    bob.take(from_alice("unavailable"), what="alice offline")
    contact = Contact.objects.get(owner=alice, person__username=BOB)
    assert contact.relationship == "external"
    subscription = Subscription.objects.get(local=alice, remote=contact.person)
    assert subscription.remote_sees_local is True

    # when alice comes online over /ws/
    alice_ws = ws_connect(alice)

    # then bob sees her available (no show)
    bob.take(from_alice("available", show="", status=""), what="alice available")

    # when alice is busy with a note
    alice_ws.send(type="presence.set", availability="busy", note="in a workshop", ref="p1")
    alice_ws.take("presence.update", ref="p1")

    # then bob sees dnd but not the note: the external level shows availability only
    bob.take(from_alice("dnd", show="dnd", status=""), what="alice dnd")

    # when alice grants bob the colleagues level, he sees her note too
    status, _ = http_json(
        federation.server,
        "PATCH",
        f"/api/v1/contacts/{quote(BOB)}/",
        token=alice_ws.token,
        payload={"relationship": "colleagues"},
    )
    assert status == 200
    bob.take(from_alice("dnd", show="dnd", status="in a workshop"), what="alice's note")

    # when alice goes off work, bob sees xa
    alice_ws.send(type="presence.set", availability="off-work", ref="p2")
    bob.take(from_alice("xa", show="xa"), what="alice xa")

    # when alice blocks bob, he sees her offline although she is online
    status, _ = http_json(
        federation.server,
        "PATCH",
        f"/api/v1/contacts/{quote(BOB)}/",
        token=alice_ws.token,
        payload={"relationship": "blocked"},
    )
    assert status == 200
    bob.take(from_alice("unavailable"), what="alice offline to a blocked watcher")
    alice_ws.send(type="presence.set", availability="available", ref="p3")
    bob.nothing(lambda s: s["kind"] == "presence" and s["type"] != "unavailable", seconds=2)

    # when bob unsubscribes, the subscription ends in Parley too
    bob.presence_send(pto=ALICE, ptype="unsubscribe")
    deadline = time.monotonic() + 10
    while subscription.remote_sees_local and time.monotonic() < deadline:
        time.sleep(0.1)
        subscription.refresh_from_db()
    assert subscription.remote_sees_local is False


def test_parley_person_sees_external_presence(federation, partners, alice, ws_connect, xmpp_login):
    # given dave subscribed to alice; the gateway asks dave for his presence in return and dave's
    # client approves
    dave = xmpp_login("dave")
    dave.presence_send(pto=ALICE, ptype="subscribe")
    dave.roster_wait(ALICE, {"both"})

    # when alice watches dave over /ws/
    alice_ws = ws_connect(alice)
    alice_ws.send(type="presence.subscribe", users=[DAVE], ref="w")
    first = alice_ws.take("presence.update", user=DAVE)
    if first["availability"] != "available":  # dave's presence may still be on its way
        first = alice_ws.take("presence.update", user=DAVE, availability="available")

    # then dave's XMPP show reaches alice as Parley availability
    dave.presence_send(pshow="away", pstatus="lunch")
    assert alice_ws.take("presence.update", user=DAVE, availability="away")["user"] == DAVE
    dave.presence_send(pshow="dnd")
    alice_ws.take("presence.update", user=DAVE, availability="do-not-disturb")
    dave.presence_send(ptype="unavailable")
    alice_ws.take("presence.update", user=DAVE, availability="offline")
    subscription = Subscription.objects.get(local=alice, remote__username=DAVE)
    assert (subscription.local_sees_remote, subscription.is_requested) == (True, True)


def test_adding_an_external_contact_asks_for_their_presence(
    federation, partners, alice, ws_connect, xmpp_login
):
    # given erin, known to Parley from an earlier contact, and online on her XMPP server
    erin_person = external_person_get_or_create(jid=ERIN)
    erin = xmpp_login("erin")
    alice_ws = ws_connect(alice)

    # when alice adds her as a contact through the API
    status, contact = http_json(
        federation.server,
        "POST",
        "/api/v1/contacts/",
        token=alice_ws.token,
        payload={"username": ERIN},
    )
    assert (status, contact["relationship"]) == (201, "external")

    # then the gateway asks erin for her presence; her client approves and alice sees her online
    erin.take(from_alice("subscribe"), what="the subscription request")
    alice_ws.send(type="presence.subscribe", users=[ERIN], ref="w")
    seen = alice_ws.take("presence.update", user=ERIN)
    if seen["availability"] != "available":  # erin's presence may still be on its way
        alice_ws.take("presence.update", user=ERIN, availability="available")
    subscription = Subscription.objects.get(local=alice, remote=erin_person)
    assert (subscription.is_requested, subscription.local_sees_remote) == (True, True)
    assert subscription.remote_sees_local is False  # erin did not ask for alice's presence
