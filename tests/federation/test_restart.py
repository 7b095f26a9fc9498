"""The gateway survives a restart of the XMPP server mid-conversation and delivers what was
queued while it was down (its own module: it restarts this module's Prosody)."""

import pytest

from chat.models import OutboundDelivery
from tests.federation.prosody import COMPONENT, EXTERNAL

pytestmark = pytest.mark.django_db(transaction=True)

ERIN = f"erin@{EXTERNAL}"


def is_body(text: str):
    return lambda s: s["kind"] == "message" and s["body"] == text


def test_gateway_reconnects_after_prosody_restart_and_delivers_the_queue(
    federation, partners, alice, ws_connect, xmpp_login
):
    # given a conversation under way between erin (XMPP) and alice (Parley)
    alice_ws = ws_connect(alice)
    erin = xmpp_login("erin")
    erin.message_send(f"alice@{COMPONENT}", "before the restart")
    conversation = alice_ws.take("conversation.updated")["conversation"]["id"]
    alice_ws.message_send(conversation=conversation, body="reply before", ref="r1")
    erin.take(is_body("reply before"), what="the first reply")

    # when the XMPP server stops and alice writes meanwhile
    federation.prosody.stop()
    federation.wait_gateway_log("XMPP stream lost", count=1)
    ack = alice_ws.message_send(conversation=conversation, body="sent while it was down", ref="r2")

    # then the message is stored and waits in the outbox
    queued = OutboundDelivery.objects.get(message_id=ack["id"])
    assert (queued.sent_at, queued.failed_at) == (None, None)

    # when the XMPP server is back
    federation.prosody.start()
    federation.wait_gateway_connected(count=2)

    # then erin, logging in again, gets what was queued (the server kept it for her offline)
    erin_again = xmpp_login("erin")
    erin_again.take(is_body("sent while it was down"), what="the queued message")
    queued = federation.wait_delivery_settled(message_id=ack["id"])
    assert queued.sent_at is not None
    assert queued.failed_at is None

    # and the conversation goes on both ways
    erin_again.message_send(f"alice@{COMPONENT}", "after the restart")
    new = alice_ws.take("message.new", where=lambda f: f["message"]["body"] == "after the restart")
    assert new["message"]["sender"]["username"] == ERIN
    alice_ws.message_send(conversation=conversation, body="reply after", ref="r3")
    erin_again.take(is_body("reply after"), what="the reply after the restart")
