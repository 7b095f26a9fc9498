"""Federation services without an XMPP server: partners, external people, the outbox."""

from hashlib import sha256

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from archiving.events import Names, event_describe, event_line
from archiving.models import ArchiveRecord
from chat import services as chat
from chat.models import Conversation, Message, OutboundDelivery
from chat.serializers import message_to_dict
from directory.exceptions import Forbidden, InvalidInput, NotFound
from directory.models import FederationPartner, Person
from federation.gateway import presence_to_xmpp
from federation.models import XmppAddress
from federation.services import inbound
from presence.selectors import presence_for_watcher

pytestmark = pytest.mark.django_db

BOB = "bob@partner.example"


@pytest.fixture
def partner(db):
    FederationPartner.objects.create(domain="partner.example")
    FederationPartner.objects.create(domain="evil.example", status="blocked")


def receive(body: str = "hello", *, sender: str = BOB, to: str = "alice", stanza_id: str = "s1"):
    return inbound.message_receive(
        sender_jid=sender,
        domain=sender.split("@")[1],
        username=to,
        body=body,
        stanza_id=stanza_id,
    )


def test_domain_check_allows_partners_only_and_always_refuses_blocked(partner, settings):
    inbound.domain_check(domain="partner.example")
    inbound.domain_check(domain="PARTNER.example")
    with pytest.raises(Forbidden) as blocked:
        inbound.domain_check(domain="evil.example")
    assert blocked.value.code == "domain_blocked"
    with pytest.raises(Forbidden) as unlisted:
        inbound.domain_check(domain="elsewhere.example")
    assert unlisted.value.code == "domain_not_allowed"

    settings.PARLEY_XMPP_OPEN_FEDERATION = True
    inbound.domain_check(domain="elsewhere.example")
    with pytest.raises(Forbidden):
        inbound.domain_check(domain="evil.example")


def test_external_person_is_named_after_the_bare_jid_and_created_once(make_person):
    person = inbound.external_person_get_or_create(jid="Bob@Partner.example")
    again = inbound.external_person_get_or_create(jid="bob@partner.example")

    assert again.pk == person.pk
    assert (person.username, person.display_name, person.is_external) == (BOB, BOB, True)
    assert person.has_usable_password() is False
    assert XmppAddress.objects.get(person=person).domain == "partner.example"


def test_external_person_gets_a_hashed_name_when_the_jid_cannot_be_a_username(make_person):
    make_person("carol@partner.example")  # an internal account already holds the name
    taken = inbound.external_person_get_or_create(jid="carol@partner.example")
    odd = inbound.external_person_get_or_create(jid="o'neil@partner.example")

    assert taken.username == "xmpp-" + sha256(b"carol@partner.example").hexdigest()[:16]
    assert odd.username == "xmpp-" + sha256(b"o'neil@partner.example").hexdigest()[:16]
    assert taken.display_name == "carol@partner.example"
    assert Person.objects.get(username="carol@partner.example").is_external is False


def test_inbound_message_lands_in_an_external_direct_conversation(partner, alice):
    message = receive("hello from outside")

    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert (conversation.kind, conversation.is_external) == ("direct", True)
    assert message.sender.username == BOB
    assert message.client_id == "xmpp:s1"
    assert list(
        ArchiveRecord.objects.filter(message_id=message.pk).values_list("is_external", "body")
    ) == [(True, "hello from outside")]
    assert OutboundDelivery.objects.count() == 0  # it came from XMPP: nothing to send back


def test_inbound_retry_with_the_same_stanza_id_stores_one_message(partner, alice):
    first = receive(stanza_id="same")
    second = receive(stanza_id="same")

    assert first.pk == second.pk
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("sender", "to", "body", "error", "code"),
    [
        ("mallory@evil.example", "alice", "hi", Forbidden, "domain_blocked"),
        ("someone@elsewhere.example", "alice", "hi", Forbidden, "domain_not_allowed"),
        (BOB, "nobody", "hi", NotFound, "person_not_found"),
        (BOB, "alice", "x" * (16 * 1024 + 1), InvalidInput, "message_too_large"),
        (BOB, "alice", "   ", InvalidInput, "empty_message"),
    ],
)
def test_inbound_refusals_store_nothing(partner, alice, sender, to, body, error, code):
    with pytest.raises(error) as refused:
        receive(body, sender=sender, to=to)

    assert refused.value.code == code
    assert Person.objects.filter(is_external=True).count() == 0
    assert Message.objects.count() == 0
    assert Conversation.objects.count() == 0
    assert ArchiveRecord.objects.count() == 0


def test_inbound_message_to_an_external_person_is_not_found(partner, alice):
    inbound.external_person_get_or_create(jid="dave@partner.example")

    with pytest.raises(NotFound):
        receive(to="dave@partner.example")


def test_reply_to_an_external_person_is_queued_once(partner, alice):
    conversation_id = receive().conversation_id

    reply, _ = chat.message_post(
        sender=alice, conversation_id=conversation_id, body="hi", client_id="r1"
    )
    chat.message_post(sender=alice, conversation_id=conversation_id, body="hi", client_id="r1")

    [row] = OutboundDelivery.objects.all()
    assert (row.message_id, row.recipient.username, row.sent_at) == (reply.pk, BOB, None)
    assert row.delivery_key == f"parley-{reply.pk}-{row.recipient_id}"


def test_internal_messages_are_not_queued(alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)

    chat.message_post(sender=alice, conversation_id=conversation.pk, body="hi")

    assert OutboundDelivery.objects.count() == 0


def test_bounced_error_shows_on_the_message(partner, alice):
    conversation_id = receive().conversation_id
    reply, _ = chat.message_post(sender=alice, conversation_id=conversation_id, body="hi")
    row = OutboundDelivery.objects.get()

    chat.message_delivery_fail(
        delivery_key=row.delivery_key, error="Not delivered: service-unavailable"
    )
    again = chat.message_delivery_fail(delivery_key=row.delivery_key, error="second")

    reply.refresh_from_db()
    assert again is None
    assert message_to_dict(reply)["delivery_error"] == "Not delivered: service-unavailable"
    assert OutboundDelivery.objects.get().failed_at is not None
    # The archive keeps the failure, once, in words a reviewer reads.
    [record] = ArchiveRecord.objects.filter(event="message.delivery_failed")
    assert (record.conversation_id, record.message_id) == (conversation_id, reply.pk)
    line = event_line(event_describe(record, name=Names({"alice": "Alice Martin"})), name=str)
    assert line == (
        f"Message #{reply.seq} by Alice Martin was not delivered to {BOB}: "
        "Not delivered: service-unavailable."
    )


def test_external_presence_becomes_parley_availability(partner, alice):
    receive()  # bob exists from his first message

    def seen() -> str:
        return presence_for_watcher(person=Person.objects.get(username=BOB), watcher=alice)[
            "availability"
        ]

    common = {"sender_jid": BOB, "resource": "phone", "domain": "partner.example", "status": ""}
    inbound.external_presence_receive(is_available=True, show="", **common)
    assert seen() == "available"
    inbound.external_presence_receive(is_available=True, show="xa", **common)
    assert seen() == "off-work"
    inbound.external_presence_receive(is_available=True, show="dnd", **common)
    assert seen() == "do-not-disturb"
    inbound.external_presence_receive(is_available=False, show="", **common)
    assert seen() == "offline"


@pytest.mark.parametrize(
    ("projection", "expected"),
    [
        ({"availability": "available"}, (True, "", "")),
        ({"availability": "busy", "note": "workshop"}, (True, "dnd", "workshop")),
        ({"availability": "do-not-disturb"}, (True, "dnd", "")),
        ({"availability": "be-right-back"}, (True, "away", "")),
        ({"availability": "away"}, (True, "away", "")),
        ({"availability": "off-work"}, (True, "xa", "")),
        ({"availability": "offline", "note": "gone"}, (False, "", "")),
        ({"availability": "busy", "custom_state": {"label": "Home"}}, (True, "dnd", "Home")),
    ],
)
def test_parley_presence_maps_to_xmpp_show(projection, expected):
    assert presence_to_xmpp(projection) == expected


def test_gateway_command_says_it_is_off_when_not_configured(settings):
    settings.PARLEY_XMPP_HOST = ""
    settings.PARLEY_XMPP_SECRET = ""

    with pytest.raises(CommandError) as off:
        call_command("xmpp_gateway")

    assert str(off.value).startswith(
        "Federation is off: set PARLEY_XMPP_HOST, PARLEY_XMPP_COMPONENT, PARLEY_XMPP_SECRET"
    )
