"""Usage rows are built by a real Celery worker from what the write path archived."""

from datetime import UTC

import pytest

from archiving.usage.models import UsageConversationDay
from chat import services as chat
from chat.models import Message

pytestmark = pytest.mark.e2e


@pytest.mark.django_db(transaction=True)
def test_the_worker_refresh_counts_messages_sent_over_websockets(
    cluster, connect_client, alice, bob
):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    alice_ws = connect_client(alice, cluster.a)
    bob_ws = connect_client(bob, cluster.b)
    alice_ws.message_send(conversation=conversation.pk, body="one", ref="u1")
    alice_ws.message_send(conversation=conversation.pk, body="two", ref="u2")
    bob_ws.message_send(conversation=conversation.pk, body="three", ref="u3")
    assert not UsageConversationDay.objects.exists()  # nothing on the write path

    cluster.task_send("archiving.usage.tasks.usage_refresh")
    cluster.wait_until_worker_idle()

    row = UsageConversationDay.objects.get()
    day = Message.objects.filter(conversation=conversation).first().created_at.astimezone(UTC)
    assert (row.conversation_id, row.day, row.kind) == (
        conversation.pk,
        day.date(),
        "direct",
    )
    assert (row.messages, row.files, row.external_messages) == (3, 0, 0)
    assert sorted(row.participants.values_list("username", "messages")) == [
        ("alice", 2),
        ("bob", 1),
    ]
