"""The gateway's outbox order without an XMPP server: record the attempt, send with the
delivery's key, mark only once the server confirmed the hand-over (the stream is faked at
slixmpp's send; the database is real)."""

import pytest
from asgiref.sync import async_to_sync
from slixmpp.exceptions import IqTimeout

from chat import services as chat
from chat.models import OutboundDelivery
from directory.models import FederationPartner
from federation.gateway import ORIGIN_ID, Gateway
from federation.services import inbound

pytestmark = pytest.mark.django_db(transaction=True)

BOB = "bob@partner.example"


@pytest.fixture
def reply(settings, alice):
    """alice's reply to bob, an external person, waiting in chat's outbox."""
    FederationPartner.objects.create(domain="partner.example")
    first = inbound.message_receive(
        sender_jid=BOB, domain="partner.example", username="alice", body="hi", stanza_id="s1"
    )
    message, _ = chat.message_post(
        sender=alice, conversation_id=first.conversation_id, body="hello Bob", client_id="r1"
    )
    return message


class FakeStream:
    """Stands in for the XMPP server: keeps what the gateway wrote; confirms or not."""

    def __init__(self, settings) -> None:
        settings.PARLEY_XMPP_HOST = "127.0.0.1"
        settings.PARLEY_XMPP_COMPONENT = "gw.test"
        settings.PARLEY_XMPP_SECRET = "secret"
        self.gateway = Gateway()
        self.gateway.is_live = True
        self.written: list[dict] = []
        self.is_confirming = True
        self.gateway.send = self.write
        self.gateway.handover_confirm = self.confirm

    def write(self, stanza, *args, **kwargs) -> None:
        origin = stanza.xml.find(ORIGIN_ID)
        self.written.append(
            {
                "id": stanza["id"],
                "origin_id": origin.get("id") if origin is not None else "",
                "to": str(stanza["to"]),
                "from": str(stanza["from"]),
                "body": stanza["body"],
            }
        )

    async def confirm(self) -> None:
        if not self.is_confirming:
            raise IqTimeout(self.gateway.Iq())


def test_delivery_is_not_marked_sent_until_the_server_confirms_it(settings, reply):
    stream = FakeStream(settings)
    key = OutboundDelivery.objects.get().delivery_key

    # when the gateway sends but the server never confirms the hand-over
    stream.is_confirming = False
    with pytest.raises(IqTimeout):
        async_to_sync(stream.gateway.outbox_send)()

    # then the stanza went out with the delivery's key, and the delivery is still pending
    assert stream.written == [
        {
            "id": key,
            "origin_id": key,
            "to": BOB,
            "from": "alice@gw.test",
            "body": "hello Bob",
        }
    ]
    row = OutboundDelivery.objects.get()
    assert (row.attempts, row.sent_at, row.failed_at) == (1, None, None)

    # when the server confirms the next time
    stream.is_confirming = True
    async_to_sync(stream.gateway.outbox_send)()
    async_to_sync(stream.gateway.outbox_send)()

    # then it was sent once more with the same id, marked sent, and never sent again
    assert [(s["id"], s["origin_id"]) for s in stream.written] == [(key, key), (key, key)]
    row.refresh_from_db()
    assert row.attempts == 2
    assert row.sent_at is not None
