"""Chat's outbox of messages to external people: record an attempt, send, mark (no gateway)."""

import pytest
from django.test import Client

from archiving.models import ArchiveRecord
from chat import services as chat
from chat.models import Message, OutboundDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def reply(make_person, alice):
    """A message from alice to an external person, waiting in the outbox."""
    external = make_person("bob@partner.example", is_external=True)
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=external)
    message, _ = chat.message_post(
        sender=alice, conversation_id=conversation.pk, body="hi", client_id="r1"
    )
    return message


def test_delivery_taken_again_after_a_crash_before_the_mark_keeps_its_key(reply):
    # given a gateway recorded its attempt and sent the message, then died before the mark
    [first] = chat.message_delivery_attempt()

    # when a gateway takes the outbox again
    [again] = chat.message_delivery_attempt()

    # then it sends the same delivery, with the same key (the stanza id), known as a re-send
    assert (first.delivery_id, first.attempts) == (again.delivery_id, 1)
    assert (again.delivery_key, again.attempts) == (f"parley-{reply.pk}-{again.recipient_id}", 2)
    assert (again.sender_username, again.body) == ("alice", "hi")
    row = OutboundDelivery.objects.get()
    assert (row.attempts, row.sent_at) == (2, None)
    assert row.attempted_at is not None


def test_marked_delivery_is_never_taken_again(reply):
    [pending] = chat.message_delivery_attempt()

    marked = chat.message_delivery_mark_sent(delivery_ids=[pending.delivery_id])

    assert marked == 1
    assert chat.message_delivery_attempt() == []
    row = OutboundDelivery.objects.get()
    assert row.sent_at is not None
    assert row.attempts == 1


def test_failed_delivery_is_not_marked_sent_or_taken_again(reply):
    [pending] = chat.message_delivery_attempt()

    chat.message_delivery_fail(delivery_key=pending.delivery_key, error="Not delivered: gone")
    marked = chat.message_delivery_mark_sent(delivery_ids=[pending.delivery_id])

    assert marked == 0
    assert chat.message_delivery_attempt() == []
    assert Message.objects.get(pk=reply.pk).delivery_error == "Not delivered: gone"
    assert OutboundDelivery.objects.get().sent_at is None


def test_delivery_fail_announces_the_error_after_commit(reply, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        message = chat.message_delivery_fail(
            delivery_key=f"parley-{reply.pk}-{OutboundDelivery.objects.get().recipient_id}",
            error="Not delivered to bob@partner.example: service-unavailable",
        )

    assert message.pk == reply.pk
    # after commit: the message.updated frame, the archive's indexing of the failure record and
    # the capture's follow-ups (supervision review)
    assert len(callbacks) == 3
    [record] = ArchiveRecord.objects.filter(event="message.delivery_failed")
    assert (record.message_id, record.payload["error"]) == (
        reply.pk,
        "Not delivered to bob@partner.example: service-unavailable",
    )


def test_admin_lists_deliveries_with_their_state(reply, make_person):
    root = make_person("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)

    page = client.get("/admin/chat/outbounddelivery/", {"q": "bob@partner.example"})

    assert page.status_code == 200
    assert b"1 outbound delivery" in page.content
