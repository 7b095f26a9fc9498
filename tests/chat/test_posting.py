"""Group commit of posts (chat/services/posting.py): same promises as message_post, a fixed
handful of statements for the whole batch."""

import threading

import pytest
from django.db import DatabaseError, connection

from archiving.models import (
    ArchiveIndexOutbox,
    ArchiveRecord,
    ArchivingPolicy,
    ArchivingPolicyAssignment,
    CaptureFailure,
)
from archiving.selectors import archive_verify
from chat import services
from chat.models import (
    Conversation,
    Message,
    Participant,
)
from directory.exceptions import Conflict, Forbidden, InvalidInput, NotFound, ServiceError

pytestmark = pytest.mark.django_db


def _direct(a, b) -> Conversation:
    return services.conversation_direct_get_or_create(person=a, other=b)[0]


def _post(sender, conversation, body, client_id=None) -> dict:
    return {
        "sender": sender,
        "conversation_id": conversation.pk,
        "body": body,
        "client_id": client_id,
    }


def test_batch_stores_every_post_with_its_seq_archive_record_and_outbox(alice, bob, carol):
    ab, ac = _direct(alice, bob), _direct(alice, carol)
    group, _ = services.conversation_create(creator=alice, usernames=["bob", "carol"], title="g")

    results = services.message_post_batch(
        requests=[
            _post(alice, group, "one", "c1"),
            _post(alice, ab, "to bob", "c2"),
            _post(bob, group, "two", "c3"),
            _post(carol, ac, "to alice", "c4"),
            _post(carol, group, "three", "c5"),
        ]
    )

    messages = [message for message, created in results]
    assert all(created for _, created in results)
    assert [(m.conversation_id, m.seq, m.body) for m in messages] == [
        (group.pk, 1, "one"),
        (ab.pk, 1, "to bob"),
        (group.pk, 2, "two"),
        (ac.pk, 1, "to alice"),
        (group.pk, 3, "three"),
    ]
    stored = {m.client_id: (m.conversation_id, m.seq) for m in Message.objects.all()}
    assert stored == {m.client_id: (m.conversation_id, m.seq) for m in messages}
    assert {c.pk: c.last_seq for c in Conversation.objects.all()} == {
        group.pk: 3,
        ab.pk: 1,
        ac.pk: 1,
    }
    posted = ArchiveRecord.objects.filter(event="message.posted")
    assert sorted(posted.values_list("message_id", flat=True)) == sorted(m.pk for m in messages)
    assert ArchiveIndexOutbox.objects.filter(record_id__in=posted.values("pk")).count() == 5
    queued = ArchiveIndexOutbox.objects.filter(message_id__isnull=False)  # history search
    assert sorted(queued.values_list("message_id", flat=True)) == sorted(m.pk for m in messages)
    # The sender has read up to their own last post.
    assert Participant.objects.get(conversation=group, person=bob).last_read_seq == 2
    assert Participant.objects.get(conversation=group, person=carol).last_read_seq == 3
    report = archive_verify()
    assert report.is_intact, report.broken


def _rows() -> dict[str, int]:
    """Rows of every chat, archiving and federation table: a table that message_post writes
    and the batch does not (a feature added to one path only) shows as a difference."""
    from django.apps import apps

    return {
        model._meta.label: model.objects.count()
        for label in ("chat", "archiving", "federation")
        for model in apps.get_app_config(label).get_models()
    }


def test_batch_writes_what_message_post_writes(alice, bob, carol):
    """The set-based path pinned against the ORM reference, post for post."""
    reference, batched = _direct(alice, bob), _direct(alice, carol)
    before = _rows()
    one, _ = services.message_post(
        sender=alice, conversation_id=reference.pk, body="ship it #release", client_id="r1"
    )
    after_one = _rows()
    [(other, _)] = services.message_post_batch(
        requests=[_post(alice, batched, "ship it #release", "b1")]
    )
    after_batch = _rows()

    assert {k: after_one[k] - before[k] for k in before} == {
        k: after_batch[k] - after_one[k] for k in before
    }
    fields = ["event", "chain_index", "conversation_kind", "actor_id", "body", "payload"]
    record_one = ArchiveRecord.objects.filter(message_id=one.pk).values(*fields).get()
    record_other = ArchiveRecord.objects.filter(message_id=other.pk).values(*fields).get()
    assert record_one == record_other
    assert (one.seq, one.body) == (other.seq, other.body)
    # Both paths extend the same chain correctly, in either order.
    services.message_post_batch(requests=[_post(bob, reference, "after", "b2")])
    services.message_post(sender=carol, conversation_id=batched.pk, body="after", client_id="r2")
    assert archive_verify().is_intact


def test_batch_writes_what_message_post_writes_for_a_reply(alice, bob, carol):
    reference, batched = _direct(alice, bob), _direct(alice, carol)
    first, _ = services.message_post(sender=alice, conversation_id=reference.pk, body="q?")
    second, _ = services.message_post(sender=alice, conversation_id=batched.pk, body="q?")
    before = _rows()
    one, _ = services.message_post(
        sender=alice, conversation_id=reference.pk, body="a!", client_id="r1", reply_to=first.pk
    )
    after_one = _rows()
    [(other, _)] = services.message_post_batch(
        requests=[{**_post(alice, batched, "a!", "b1"), "reply_to": second.pk}]
    )
    after_batch = _rows()

    assert {k: after_one[k] - before[k] for k in before} == {
        k: after_batch[k] - after_one[k] for k in before
    }
    fields = ["event", "chain_index", "conversation_kind", "actor_id", "body", "payload"]
    records = ArchiveRecord.objects.order_by("chain_index")
    assert list(records.filter(message_id=one.pk).values(*fields)) == list(
        records.filter(message_id=other.pk).values(*fields)
    )
    assert [
        r["event"] for r in ArchiveRecord.objects.filter(message_id=one.pk).values("event")
    ] == [
        "message.posted",
        "message.replied",
    ]
    assert (one.reply_to_id, other.reply_to_id) == (first.pk, second.pk)
    assert archive_verify().is_intact


def test_batch_refuses_replies_that_cannot_be_answered_and_stores_the_others(alice, bob, carol):
    ab, ac = _direct(alice, bob), _direct(alice, carol)
    asked, _ = services.message_post(sender=bob, conversation_id=ab.pk, body="q?")
    elsewhere, _ = services.message_post(sender=carol, conversation_id=ac.pk, body="private")
    gone, _ = services.message_post(sender=bob, conversation_id=ab.pk, body="oops")
    services.message_delete(actor=bob, message_id=gone.pk)

    results = services.message_post_batch(
        requests=[
            {**_post(alice, ab, "to the other", "x1"), "reply_to": elsewhere.pk},
            {**_post(alice, ab, "to the deleted", "x2"), "reply_to": gone.pk},
            {**_post(alice, ab, "to nothing", "x3"), "reply_to": 999_999},
            {**_post(alice, ab, "bad", "x4"), "reply_to": "1"},
            {**_post(alice, ab, "answer", "x5"), "reply_to": asked.pk},
        ]
    )

    assert [getattr(r, "code", None) for r in results[:4]] == [
        "reply_to_not_found",
        "reply_to_deleted",
        "reply_to_not_found",
        "invalid_reply_to",
    ]
    stored, created = results[4]
    assert (stored.seq, stored.reply_to_id, created) == (3, asked.pk, True)
    assert list(Message.objects.filter(conversation=ab).values_list("body", flat=True)) == [
        "q?",
        "",
        "answer",
    ]
    assert ArchiveRecord.objects.filter(event="message.replied").count() == 1


def test_batch_refuses_one_post_and_stores_the_others(alice, bob, carol, make_person):
    ab = _direct(alice, bob)
    stage = services.room_create(
        creator=alice, title="Town hall", room_kind="auditorium", members=[bob]
    )
    outsider = make_person("dave")
    services.message_post(sender=alice, conversation_id=ab.pk, body="first", client_id="used")

    results = services.message_post_batch(
        requests=[
            _post(outsider, ab, "let me in", "x1"),
            _post(bob, stage, "may I speak", "x2"),
            _post(bob, ab, "", "x3"),
            _post(alice, stage, "welcome", "used"),
            _post(alice, ab, "first", "used"),
            _post(bob, ab, "stored", "x4"),
            _post(bob, ab, "stored again", "x4"),
        ]
    )

    assert isinstance(results[0], NotFound)
    assert isinstance(results[1], Forbidden)
    assert results[1].code == "auditorium"
    assert isinstance(results[2], InvalidInput)
    assert results[2].code == "empty_message"
    assert isinstance(results[3], Conflict)
    assert results[3].code == "client_id_reused"
    repeat, created = results[4]
    assert (repeat.body, repeat.seq, created) == ("first", 1, False)
    stored, created = results[5]
    assert (stored.seq, created) == (2, True)
    assert results[6] == (stored, False)  # a repeat inside the batch: the same message
    assert sorted(Message.objects.values_list("client_id", "seq")) == [("used", 1), ("x4", 2)]
    assert not Message.objects.filter(conversation=stage).exists()
    assert ArchiveRecord.objects.filter(event="message.posted").count() == 2


def test_batch_in_critical_mode_refuses_the_posts_when_capture_fails(alice, bob, monkeypatch):
    ab = _direct(alice, bob)
    ArchivingPolicy.objects.filter(is_global=True).update(is_critical=True)
    _break_archive_writes(monkeypatch)

    results = services.message_post_batch(
        requests=[_post(alice, ab, "must archive", "k1"), _post(bob, ab, "me too", "k2")]
    )

    assert [r.code for r in results] == ["archive_unavailable", "archive_unavailable"]
    assert not Message.objects.exists()
    assert Conversation.objects.get(pk=ab.pk).last_seq == 0


def test_batch_in_non_critical_mode_stores_and_records_the_capture_failure(alice, bob, monkeypatch):
    ab = _direct(alice, bob)
    _break_archive_writes(monkeypatch)

    results = services.message_post_batch(requests=[_post(alice, ab, "best effort", "n1")])

    message, created = results[0]
    assert created
    assert Message.objects.get().pk == message.pk
    failure = CaptureFailure.objects.get()
    assert (failure.message_id, failure.event) == (message.pk, "message.posted")


def _break_archive_writes(monkeypatch):
    def refuse(*args, **kwargs):
        raise DatabaseError("archive tablespace is full")

    monkeypatch.setattr(ArchiveRecord.objects, "create", refuse)
    monkeypatch.setattr(ArchiveRecord.objects, "bulk_create", refuse)


# Statements of one batch, whatever it holds (counted inside the test's transaction, so the
# batch's BEGIN / COMMIT show as SAVEPOINT / RELEASE): lock the conversations and read the
# senders' participations, earlier client_ids, insert the messages, move last_seq, move the senders'
# read markers, the policies, the policy of each member, lock the chains, insert the records,
# move the chain heads, the archive index outbox, the search outbox, the feed terms.
BATCH_QUERIES = 15


def test_batch_statements_stay_flat_as_posts_history_members_and_policies_grow(
    alice, make_person, django_assert_num_queries
):
    people = [make_person() for _ in range(6)]
    directs = [_direct(alice, p) for p in people]
    with django_assert_num_queries(BATCH_QUERIES):
        services.message_post_batch(requests=[_post(alice, directs[0], "one", "q0")])

    # More posts, more conversations, more history, more members, more policies.
    for i in range(30):
        services.message_post(
            sender=alice, conversation_id=directs[1].pk, body=f"h{i}", client_id=f"h{i}"
        )
    crowd = [make_person() for _ in range(40)]
    group, _ = services.conversation_create(
        creator=alice, usernames=[p.username for p in crowd], title="crowd"
    )
    strict = ArchivingPolicy.objects.create(name="Strict", is_critical=True)
    for person in crowd[:10]:
        ArchivingPolicyAssignment.objects.create(person=person, policy=strict)
    requests = [_post(alice, d, f"many {i}", f"m{i}") for i, d in enumerate(directs)]
    requests += [_post(p, group, f"crowd {i}", f"g{i}") for i, p in enumerate(crowd[:14])]
    with django_assert_num_queries(BATCH_QUERIES):
        results = services.message_post_batch(requests=requests)

    assert len(results) == 20
    assert all(created for _, created in results)
    assert archive_verify().is_intact


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_in_crossing_conversations_keep_seq_and_chains(alice, bob, carol):
    """Batches locking the same conversations from several threads (PostgreSQL row locks):
    no deadlock, no gap, no fork in any chain."""
    from tests.conftest import postgres_or_skip

    postgres_or_skip()
    conversations = [_direct(alice, bob), _direct(alice, carol), _direct(bob, carol)]
    senders = {
        conversations[0].pk: alice,
        conversations[1].pk: carol,
        conversations[2].pk: bob,
    }
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait(10)
            for round_ in range(10):
                order = conversations if (n + round_) % 2 else list(reversed(conversations))
                results = services.message_post_batch(
                    requests=[
                        _post(senders[c.pk], c, f"w{n} r{round_}", f"w{n}-{round_}-{c.pk}")
                        for c in order
                    ]
                )
                failures.extend(r for r in results if isinstance(r, ServiceError))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    for conversation in conversations:
        seqs = list(
            Message.objects.filter(conversation=conversation)
            .order_by("seq")
            .values_list("seq", flat=True)
        )
        assert seqs == list(range(1, 41))
    assert archive_verify().is_intact
