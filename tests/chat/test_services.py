import pytest
from django.db import DatabaseError

from archiving.models import ArchiveRecord, ArchivingPolicy, ArchivingPolicyAssignment
from chat import services
from chat.models import Conversation, Message, Participant
from directory.exceptions import Conflict, Forbidden, InvalidInput, NotFound, Unavailable

pytestmark = pytest.mark.django_db


def _direct(alice, bob) -> Conversation:
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    return conversation


def test_direct_conversation_is_unique_per_pair(alice, bob):
    first, created_first = services.conversation_direct_get_or_create(person=alice, other=bob)
    second, created_second = services.conversation_direct_get_or_create(person=bob, other=alice)

    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Conversation.objects.filter(kind="direct").count() == 1


def test_direct_conversation_with_oneself_is_refused(alice):
    with pytest.raises(InvalidInput):
        services.conversation_direct_get_or_create(person=alice, other=alice)
    assert not Conversation.objects.exists()


def test_message_post_assigns_consecutive_seqs(alice, bob):
    conversation = _direct(alice, bob)

    seqs = [
        services.message_post(
            sender=sender, conversation_id=conversation.pk, body=f"m{i}", client_id=f"c{i}"
        )[0].seq
        for i, sender in enumerate([alice, bob, alice, alice, bob])
    ]

    assert seqs == [1, 2, 3, 4, 5]
    conversation.refresh_from_db()
    assert conversation.last_seq == 5


def test_message_post_retry_with_same_client_id_returns_the_stored_message(alice, bob):
    conversation = _direct(alice, bob)
    first, created = services.message_post(
        sender=alice, conversation_id=conversation.pk, body="hello", client_id="abc"
    )

    again, created_again = services.message_post(
        sender=alice, conversation_id=conversation.pk, body="hello", client_id="abc"
    )

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert again.seq == 1
    assert Message.objects.count() == 1
    assert ArchiveRecord.objects.filter(event="message.posted").count() == 1


def test_message_post_refuses_client_id_reused_in_another_conversation(alice, bob, carol):
    services.message_post(
        sender=alice, conversation_id=_direct(alice, bob).pk, body="one", client_id="same"
    )
    other = _direct(alice, carol)

    with pytest.raises(Conflict):
        services.message_post(sender=alice, conversation_id=other.pk, body="two", client_id="same")
    assert Message.objects.count() == 1


def test_message_post_rejects_non_member(alice, bob, carol):
    conversation = _direct(alice, bob)
    records_before = ArchiveRecord.objects.count()

    with pytest.raises(NotFound):
        services.message_post(sender=carol, conversation_id=conversation.pk, body="hi")

    assert not Message.objects.exists()
    assert ArchiveRecord.objects.count() == records_before
    conversation.refresh_from_db()
    assert conversation.last_seq == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [("", "empty_message"), ("   ", "empty_message"), ("x" * (16 * 1024 + 1), "message_too_large")],
)
def test_message_post_rejects_bad_bodies(alice, bob, body, code):
    conversation = _direct(alice, bob)

    with pytest.raises(InvalidInput) as refusal:
        services.message_post(sender=alice, conversation_id=conversation.pk, body=body)

    assert refusal.value.code == code
    assert not Message.objects.exists()


def test_message_post_accepts_exactly_the_size_limit(alice, bob, settings):
    conversation = _direct(alice, bob)
    body = "é" * (settings.PARLEY_MESSAGE_MAX_BYTES // 2)  # two bytes each in UTF-8

    message, _ = services.message_post(sender=alice, conversation_id=conversation.pk, body=body)

    assert message.body == body


def test_message_post_archives_in_the_same_transaction(alice, bob):
    conversation = _direct(alice, bob)

    message, _ = services.message_post(
        sender=alice, conversation_id=conversation.pk, body="Buy 100 at 42"
    )

    record = ArchiveRecord.objects.get(event="message.posted")
    assert (record.message_id, record.message_seq, record.body) == (message.pk, 1, "Buy 100 at 42")
    assert record.actor_username == "alice"
    assert record.conversation_id == conversation.pk


# The pinned count includes the SAVEPOINT / RELEASE pair of message_post's atomic block, which
# a test (inside its own transaction) sees; in production that block is BEGIN / COMMIT.
# 17: the 15 of the life of a message, the archive search outbox row written with the archive
# record, and the one indexed topic-feed candidate lookup.
POST_QUERIES = 17


def test_message_post_queries_stay_flat_as_history_grows(alice, bob, django_assert_num_queries):
    conversation = _direct(alice, bob)
    services.message_post(sender=alice, conversation_id=conversation.pk, body="warm-up")

    with django_assert_num_queries(POST_QUERIES):
        services.message_post(sender=bob, conversation_id=conversation.pk, body="second")
    for i in range(30):
        services.message_post(sender=alice, conversation_id=conversation.pk, body=f"more {i}")
    with django_assert_num_queries(POST_QUERIES):
        services.message_post(sender=bob, conversation_id=conversation.pk, body="thirty-third")


def test_message_post_queries_do_not_grow_with_room_size(make_person, django_assert_num_queries):
    owner = make_person("owner")
    small = services.room_create(creator=owner, title="small", members=[make_person()])
    big = services.room_create(
        creator=owner, title="big", members=[make_person() for _ in range(40)]
    )
    services.message_post(sender=owner, conversation_id=small.pk, body="warm")
    services.message_post(sender=owner, conversation_id=big.pk, body="warm")

    with django_assert_num_queries(POST_QUERIES):
        services.message_post(sender=owner, conversation_id=small.pk, body="hello small")
    with django_assert_num_queries(POST_QUERIES):
        services.message_post(sender=owner, conversation_id=big.pk, body="hello big")


def test_edit_keeps_the_original_text_in_the_archive(alice, bob):
    conversation = _direct(alice, bob)
    message, _ = services.message_post(
        sender=alice, conversation_id=conversation.pk, body="sell at 10"
    )

    edited = services.message_edit(editor=alice, message_id=message.pk, body="sell at 12")

    assert edited.body == "sell at 12"
    assert edited.edited_at is not None
    records = list(ArchiveRecord.objects.filter(message_id=message.pk).order_by("chain_index"))
    assert [(r.event, r.body) for r in records] == [
        ("message.posted", "sell at 10"),
        ("message.edited", "sell at 12"),
    ]


def test_delete_hides_the_text_but_the_archive_keeps_it(alice, bob):
    conversation = _direct(alice, bob)
    message, _ = services.message_post(sender=alice, conversation_id=conversation.pk, body="oops")

    deleted = services.message_delete(actor=alice, message_id=message.pk)

    assert deleted.is_deleted
    assert Message.objects.get(pk=message.pk).body == ""
    posted = ArchiveRecord.objects.get(message_id=message.pk, event="message.posted")
    assert posted.body == "oops"
    assert ArchiveRecord.objects.filter(message_id=message.pk, event="message.deleted").exists()


def test_only_the_sender_edits_or_deletes_outside_rooms(alice, bob):
    conversation = _direct(alice, bob)
    message, _ = services.message_post(sender=alice, conversation_id=conversation.pk, body="mine")

    with pytest.raises(Forbidden):
        services.message_edit(editor=bob, message_id=message.pk, body="yours now")
    with pytest.raises(Forbidden):
        services.message_delete(actor=bob, message_id=message.pk)

    message.refresh_from_db()
    assert (message.body, message.deleted_at) == ("mine", None)


def test_room_manager_may_delete_any_message_in_the_room(alice, bob):
    room = services.room_create(creator=alice, title="desk", members=[bob])
    message, _ = services.message_post(sender=bob, conversation_id=room.pk, body="off topic")

    services.message_delete(actor=alice, message_id=message.pk)

    assert Message.objects.get(pk=message.pk).is_deleted


def test_adding_a_third_person_to_a_direct_conversation_starts_a_new_group(alice, bob, carol):
    direct = _direct(alice, bob)
    services.message_post(sender=alice, conversation_id=direct.pk, body="just between us")

    group, escalated = services.participant_add(
        actor=alice, conversation_id=direct.pk, username="carol"
    )

    assert escalated is True
    assert group.pk != direct.pk
    assert group.kind == "group"
    members = set(
        Participant.objects.filter(conversation=group).values_list("person__username", flat=True)
    )
    assert members == {"alice", "bob", "carol"}
    assert not Participant.objects.filter(conversation=direct, person=carol).exists()
    assert not Message.objects.filter(conversation=group).exists()


def test_newcomer_to_a_group_does_not_see_earlier_messages(alice, bob, carol, make_person):
    group, _ = services.conversation_create(creator=alice, usernames=["bob", "carol"])
    services.message_post(sender=alice, conversation_id=group.pk, body="before dave")
    dave = make_person("dave")

    services.participant_add(actor=alice, conversation_id=group.pk, username="dave")
    services.message_post(sender=bob, conversation_id=group.pk, body="after dave")

    from chat.selectors import message_list_after, participation_get

    participation = participation_get(person_id=dave.pk, conversation_id=group.pk)
    bodies = [m.body for m in message_list_after(participant=participation, after_seq=0, limit=50)]
    assert bodies == ["after dave"]


def test_joins_and_leaves_are_archived(alice, bob, carol):
    group, _ = services.conversation_create(creator=alice, usernames=["bob"], title="deal team")
    services.participant_add(actor=alice, conversation_id=group.pk, username="carol")
    services.participant_leave(person=bob, conversation_id=group.pk)

    events = list(
        ArchiveRecord.objects.filter(conversation_id=group.pk)
        .order_by("chain_index")
        .values_list("event", "payload")
    )
    assert events == [
        ("conversation.created", {"participants": ["alice", "bob"], "title": "deal team"}),
        ("participant.joined", {"person": "carol"}),
        ("participant.left", {"person": "bob"}),
    ]


def test_a_person_who_left_cannot_post(alice, bob, carol):
    group, _ = services.conversation_create(creator=alice, usernames=["bob", "carol"])
    services.participant_leave(person=bob, conversation_id=group.pk)

    with pytest.raises(NotFound):
        services.message_post(sender=bob, conversation_id=group.pk, body="still here?")
    assert not Message.objects.exists()


def test_mark_read_moves_forward_only(alice, bob):
    conversation = _direct(alice, bob)
    for i in range(3):
        services.message_post(sender=alice, conversation_id=conversation.pk, body=f"m{i}")

    services.conversation_mark_read(person=bob, conversation_id=conversation.pk, seq=2)
    services.conversation_mark_read(person=bob, conversation_id=conversation.pk, seq=1)

    assert Participant.objects.get(conversation=conversation, person=bob).last_read_seq == 2


def test_archiving_off_for_everyone_stores_no_record(alice, bob):
    ArchivingPolicy.objects.filter(is_global=True).update(archive_internal=False)

    conversation = _direct(alice, bob)
    services.message_post(sender=alice, conversation_id=conversation.pk, body="unarchived")

    assert not ArchiveRecord.objects.exists()
    assert Message.objects.count() == 1


def test_one_participants_override_is_enough_to_archive(alice, bob):
    ArchivingPolicy.objects.filter(is_global=True).update(archive_internal=False)
    watched = ArchivingPolicy.objects.create(name="Traders", archive_internal=True)
    ArchivingPolicyAssignment.objects.create(person=bob, policy=watched)

    conversation = _direct(alice, bob)
    services.message_post(sender=alice, conversation_id=conversation.pk, body="archived for bob")

    assert ArchiveRecord.objects.filter(event="message.posted").count() == 1


def test_overrides_that_exclude_everyone_turn_archiving_off(alice, bob):
    off = ArchivingPolicy.objects.create(name="Off", archive_internal=False)
    ArchivingPolicyAssignment.objects.create(person=alice, policy=off)
    ArchivingPolicyAssignment.objects.create(person=bob, policy=off)

    conversation = _direct(alice, bob)
    services.message_post(sender=alice, conversation_id=conversation.pk, body="not archived")

    assert not ArchiveRecord.objects.exists()


def _break_archive_writes(monkeypatch):
    from archiving.models import ArchiveRecord as Record

    def refuse(*args, **kwargs):
        raise DatabaseError("archive tablespace is full")

    monkeypatch.setattr(Record.objects, "create", refuse)


def test_critical_mode_refuses_the_message_when_capture_fails(alice, bob, monkeypatch):
    conversation = _direct(alice, bob)
    ArchivingPolicy.objects.filter(is_global=True).update(is_critical=True)
    _break_archive_writes(monkeypatch)

    with pytest.raises(Unavailable) as refusal:
        services.message_post(sender=alice, conversation_id=conversation.pk, body="must archive")

    assert refusal.value.code == "archive_unavailable"
    assert not Message.objects.exists()
    conversation.refresh_from_db()
    assert conversation.last_seq == 0


def test_non_critical_mode_delivers_and_records_the_capture_failure(alice, bob, monkeypatch):
    from archiving.models import CaptureFailure

    conversation = _direct(alice, bob)
    _break_archive_writes(monkeypatch)

    message, _ = services.message_post(
        sender=alice, conversation_id=conversation.pk, body="best effort"
    )

    assert Message.objects.get().pk == message.pk
    failure = CaptureFailure.objects.get()
    assert (failure.message_id, failure.event) == (message.pk, "message.posted")
    assert "tablespace is full" in failure.error


@pytest.mark.django_db(transaction=True)
def test_a_failing_broadcast_after_commit_does_not_fail_the_send(alice, bob, monkeypatch):
    from chat import realtime

    def broken(message):
        raise RuntimeError("channel layer down")

    monkeypatch.setattr(realtime, "message_new", broken)
    conversation = _direct(alice, bob)

    message, created = services.message_post(
        sender=alice, conversation_id=conversation.pk, body="stored anyway"
    )

    assert created is True
    assert Message.objects.get().body == "stored anyway"
    assert ArchiveRecord.objects.filter(event="message.posted", message_id=message.pk).exists()
