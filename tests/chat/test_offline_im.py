"""Lync's offline IM switch (chat/selectors/offline.py, chat/services/offline.py): with offline
delivery off, a post whose recipients are all offline is not stored as a message, the sender
is told who is offline, and the attempt is archived with its text."""

import pytest
from django.utils import timezone

from archiving.events import Names, event_describe
from archiving.models import ArchiveRecord, AuditEntry
from archiving.selectors import archive_verify
from chat import services
from chat.models import ImPolicy, ImPolicyAssignment, Message, Participant
from chat.services import im_policies
from chat.services.offline import RecipientOffline
from presence import services as presence
from presence.models import Contact, PresenceState

pytestmark = pytest.mark.django_db


def _direct(a, b):
    return services.conversation_direct_get_or_create(person=a, other=b)[0]


def _offline_delivery_off_for_everyone(actor) -> ImPolicy:
    return im_policies.im_policy_save(
        actor=actor, policy=ImPolicy(name="Global", is_global=True, delivers_offline=False)
    )


def _attempts(conversation):
    return list(
        ArchiveRecord.objects.filter(conversation_id=conversation.pk, event="message.not_delivered")
        .order_by("chain_index")
        .values_list("actor_username", "body", "payload")
    )


def test_offline_recipient_gets_the_message_later_by_default(alice, bob):
    conversation = _direct(alice, bob)

    _, created = services.message_post(
        sender=alice, conversation_id=conversation.pk, body="see you tomorrow"
    )

    assert created
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert _attempts(conversation) == []


def test_post_to_offline_recipient_is_refused_and_the_attempt_archived(alice, bob):
    conversation = _direct(alice, bob)
    _offline_delivery_off_for_everyone(alice)

    with pytest.raises(RecipientOffline) as refused:
        services.message_post(
            sender=alice, conversation_id=conversation.pk, body="are you there?", client_id="c1"
        )

    assert refused.value.code == "recipient_offline"
    assert refused.value.status == 409
    assert refused.value.offline == ["bob"]
    assert "Bob" in refused.value.detail
    assert "not delivered" in refused.value.detail
    # Nothing reaches bob: no message, no seq taken, no unread count.
    assert Message.objects.count() == 0
    conversation.refresh_from_db()
    assert conversation.last_seq == 0
    # The attempt is archived, with its text, on the conversation's chain.
    assert _attempts(conversation) == [
        ("alice", "are you there?", {"offline": ["Bob Chen"], "client_id": "c1"})
    ]
    assert archive_verify().is_intact
    record = ArchiveRecord.objects.get(event="message.not_delivered")
    assert event_describe(record, name=Names({"alice": "Alice Martin"})).statement() == (
        "Alice Martin sent a message that was not delivered because Bob Chen was offline and "
        "offline delivery is off: are you there?"
    )


def test_post_to_online_recipient_is_delivered_with_offline_delivery_off(alice, bob):
    conversation = _direct(alice, bob)
    _offline_delivery_off_for_everyone(alice)
    presence.endpoint_open(person=bob)

    message, created = services.message_post(
        sender=alice, conversation_id=conversation.pk, body="hi"
    )

    assert created
    assert message.seq == 1
    assert _attempts(conversation) == []


def test_recipient_override_decides_not_the_global_policy(alice, bob, carol):
    ab, ac = _direct(alice, bob), _direct(alice, carol)
    keep = ImPolicy.objects.create(name="Keep", delivers_offline=True)
    drop = ImPolicy.objects.create(name="Drop", delivers_offline=False)
    _offline_delivery_off_for_everyone(alice)
    ImPolicyAssignment.objects.create(person=bob, policy=keep)
    ImPolicyAssignment.objects.create(person=alice, policy=drop)  # the sender's own: irrelevant

    services.message_post(sender=alice, conversation_id=ab.pk, body="waits for bob")
    with pytest.raises(RecipientOffline):
        services.message_post(sender=alice, conversation_id=ac.pk, body="not for carol")

    assert list(Message.objects.values_list("body", flat=True)) == ["waits for bob"]


def test_group_is_refused_only_when_nobody_can_receive(alice, bob, carol):
    group, _ = services.conversation_create(creator=alice, usernames=["bob", "carol"], title="g")
    _offline_delivery_off_for_everyone(alice)

    with pytest.raises(RecipientOffline) as refused:
        services.message_post(sender=alice, conversation_id=group.pk, body="anyone?")
    presence.endpoint_open(person=carol)
    message, _ = services.message_post(sender=alice, conversation_id=group.pk, body="carol?")

    assert refused.value.offline == ["bob", "carol"]
    assert "Bob Chen, Carol Diaz are offline" in refused.value.detail
    assert message.seq == 1


def test_rooms_keep_their_history_for_offline_members(alice, bob):
    room = services.room_create(creator=alice, title="desk", members=[bob])
    _offline_delivery_off_for_everyone(alice)

    _, created = services.message_post(sender=alice, conversation_id=room.pk, body="fyi")

    assert created


def test_appear_offline_and_blocked_count_as_offline_to_the_sender(alice, bob, carol):
    ab, cb = _direct(alice, bob), _direct(carol, bob)
    _offline_delivery_off_for_everyone(alice)
    presence.endpoint_open(person=bob)
    Contact.objects.create(owner=bob, person=carol, relationship="blocked")

    services.message_post(sender=alice, conversation_id=ab.pk, body="online bob")
    with pytest.raises(RecipientOffline):
        services.message_post(sender=carol, conversation_id=cb.pk, body="blocked carol")
    PresenceState.objects.update_or_create(
        person=bob, defaults={"manual_availability": "appear-offline"}
    )
    with pytest.raises(RecipientOffline):
        services.message_post(sender=alice, conversation_id=ab.pk, body="bob hides")

    assert list(Message.objects.values_list("body", flat=True)) == ["online bob"]


def test_expired_endpoint_is_offline(alice, bob, settings):
    conversation = _direct(alice, bob)
    _offline_delivery_off_for_everyone(alice)
    endpoint = presence.endpoint_open(person=bob)
    endpoint.last_seen_at = timezone.now() - timezone.timedelta(
        seconds=settings.PARLEY_ENDPOINT_EXPIRY_SECONDS + 5
    )
    endpoint.save()

    with pytest.raises(RecipientOffline):
        services.message_post(sender=alice, conversation_id=conversation.pk, body="late")


def test_batch_refuses_and_archives_like_message_post(alice, bob, carol):
    ab, ac = _direct(alice, bob), _direct(alice, carol)
    _offline_delivery_off_for_everyone(alice)
    presence.endpoint_open(person=carol)

    results = services.message_post_batch(
        requests=[
            {"sender": alice, "conversation_id": ab.pk, "body": "to bob", "client_id": "b1"},
            {"sender": alice, "conversation_id": ac.pk, "body": "to carol", "client_id": "b2"},
        ]
    )

    assert isinstance(results[0], RecipientOffline)
    assert results[0].offline == ["bob"]
    message, created = results[1]
    assert (message.body, created) == ("to carol", True)
    assert list(Message.objects.values_list("body", flat=True)) == ["to carol"]
    assert _attempts(ab) == [("alice", "to bob", {"offline": ["Bob Chen"], "client_id": "b1"})]
    assert archive_verify().is_intact


def test_batch_writes_what_message_post_writes_for_a_refusal(alice, bob, carol):
    from tests.chat.test_posting import _rows

    reference, batched = _direct(alice, bob), _direct(alice, carol)
    _offline_delivery_off_for_everyone(alice)
    before = _rows()
    with pytest.raises(RecipientOffline):
        services.message_post(sender=alice, conversation_id=reference.pk, body="x", client_id="r")
    after_one = _rows()
    services.message_post_batch(
        requests=[{"sender": alice, "conversation_id": batched.pk, "body": "x", "client_id": "b"}]
    )
    after_batch = _rows()

    assert {k: after_one[k] - before[k] for k in before} == {
        k: after_batch[k] - after_one[k] for k in before
    }


def test_sender_read_marker_does_not_move_on_a_refusal(alice, bob):
    conversation = _direct(alice, bob)
    _offline_delivery_off_for_everyone(alice)

    with pytest.raises(RecipientOffline):
        services.message_post(sender=alice, conversation_id=conversation.pk, body="x")

    assert Participant.objects.get(conversation=conversation, person=alice).last_read_seq == 0


def test_policy_changes_are_audited(alice, bob):
    policy = _offline_delivery_off_for_everyone(alice)
    im_policies.im_assignment_save(
        actor=alice, assignment=ImPolicyAssignment(person=bob, policy=policy)
    )

    entries = list(AuditEntry.objects.order_by("pk").values_list("action", "target"))
    assert entries == [
        ("policy.change", f"IM policy {policy.pk}"),
        ("policy.change", f"IM policy assignment {ImPolicyAssignment.objects.get().pk}"),
    ]
