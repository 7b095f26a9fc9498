"""Supervision services: which messages are judged, how, and the review actions (audited)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group

from archiving.models import ArchiveRecord, AuditEntry, Case, LegalHold
from archiving.services import capture
from chat import services as chat
from chat.services.posting import message_post_batch
from directory.exceptions import Conflict, InvalidInput, NotFound
from directory.models import Department
from supervision import services
from supervision.models import (
    ReviewItem,
    SupervisionCursor,
    SupervisionEvaluation,
    SupervisionPolicy,
)

pytestmark = pytest.mark.django_db


class _Recorder:
    """Stands in for a follow-up task: keeps the record ids of every call."""

    calls: list[list[int]] = []

    def delay(self, record_ids):
        self.calls.append(list(record_ids))


recorder = _Recorder()


def _audit_actions() -> list[str]:
    return list(AuditEntry.objects.order_by("sequence").values_list("action", flat=True))


# -- evaluation -------------------------------------------------------------------------------


def test_a_lexicon_hit_creates_an_item_with_the_matched_words_highlighted(
    alice, direct, make_policy, post
):
    make_policy(people=["alice"], lexicon=["guarantee", '"inside info"', "merg*"])

    message = post(sender=alice, conversation=direct, body="I GUARANTEE the merger, <b>ok</b>?")

    item = ReviewItem.objects.get()
    record = ArchiveRecord.objects.get(message_id=message.pk)
    assert (item.record_id, item.reason, item.status) == (record.pk, "lexicon", "open")
    assert item.matched == ["GUARANTEE", "merger"]
    assert item.highlight == (
        "I <mark>GUARANTEE</mark> the <mark>merger</mark>, &lt;b&gt;ok&lt;/b&gt;?"
    )
    assert SupervisionEvaluation.objects.get().outcome == "lexicon"


def test_a_phrase_and_a_query_match_only_as_the_archive_search_would(
    alice, direct, make_policy, post
):
    make_policy(people=["alice"], lexicon=['"inside info"', "(cash OR wire) AND -lunch"])

    post(sender=alice, conversation=direct, body="info that is inside")
    post(sender=alice, conversation=direct, body="cash for lunch")
    post(sender=alice, conversation=direct, body="some inside info, wire it")

    item = ReviewItem.objects.get()
    assert item.matched == ["inside", "info", "wire"]
    assert SupervisionEvaluation.objects.filter(outcome="none").count() == 2


def test_messages_of_people_outside_the_policy_are_not_evaluated(
    alice, bob, direct, make_policy, post
):
    make_policy(people=["alice"], lexicon=["guarantee"])

    post(sender=bob, conversation=direct, body="I guarantee it")

    assert not SupervisionEvaluation.objects.exists()
    assert not ReviewItem.objects.exists()


def test_departments_and_groups_bring_their_members_under_the_policy(
    make_person, make_policy, post
):
    trading = Department.objects.create(name="Trading")
    desk = Group.objects.create(name="Desk heads")
    dana = make_person("dana", department=trading)
    gil = make_person("gil")
    gil.groups.add(desk)
    other = make_person("other")
    make_policy(departments=["Trading"], groups=["Desk heads"], lexicon=["promise"])
    conversation, _ = chat.conversation_create(creator=dana, usernames=["gil", "other"])

    post(sender=dana, conversation=conversation, body="I promise")
    post(sender=gil, conversation=conversation, body="promise kept")
    post(sender=other, conversation=conversation, body="no promise from me")

    assert sorted(ReviewItem.objects.values_list("sender__username", flat=True)) == [
        "dana",
        "gil",
    ]


def test_scope_internal_leaves_external_conversations_alone(alice, make_person, make_policy, post):
    partner = make_person("eve@partner.example", is_external=True)
    external, _ = chat.conversation_direct_get_or_create(person=alice, other=partner)
    internal_partner = make_person("ivan")
    internal, _ = chat.conversation_direct_get_or_create(person=alice, other=internal_partner)
    make_policy(people=["alice"], lexicon=["guarantee"], scope="internal")

    post(sender=alice, conversation=external, body="guarantee outside")
    post(sender=alice, conversation=internal, body="guarantee inside")

    assert list(ReviewItem.objects.values_list("conversation_id", flat=True)) == [internal.pk]


def test_a_policy_judges_only_messages_inside_its_dates(alice, direct, make_policy, post):
    make_policy(people=["alice"], lexicon=["guarantee"], end="2020-01-31")

    post(sender=alice, conversation=direct, body="guarantee")

    assert not SupervisionEvaluation.objects.exists()


def test_sampling_is_deterministic_and_close_to_the_percentage(alice, bob, make_policy):
    policy = make_policy(people=["alice"], sample_percent=25)
    start = datetime.now(UTC)
    records = [
        capture(
            conversation_id=7,
            conversation_kind="direct",
            is_external=False,
            participant_ids=[alice.pk, bob.pk],
            event="message.posted",
            actor=alice,
            occurred_at=start + timedelta(seconds=n),
            body=f"routine note {n}",
        )
        for n in range(400)
    ]
    ids = [r.pk for r in records]

    services.records_evaluate(record_ids=ids)
    first = set(ReviewItem.objects.values_list("record_id", flat=True))
    expected = {
        pk
        for pk in ids
        if services.sample_draws(seed=policy.seed, record_id=pk, percent=policy.sample_percent)
    }
    SupervisionEvaluation.objects.all().delete()  # judge again from scratch
    ReviewItem.objects.all().delete()
    services.records_evaluate(record_ids=ids)
    again = set(ReviewItem.objects.values_list("record_id", flat=True))

    assert first == expected == again
    assert 60 <= len(first) <= 140  # 25 % of 400 = 100
    assert set(ReviewItem.objects.values_list("reason", flat=True)) == {"sample"}


def test_evaluating_the_same_records_again_writes_nothing(alice, direct, make_policy, post):
    make_policy(people=["alice"], lexicon=["guarantee"], sample_percent=100)
    post(sender=alice, conversation=direct, body="guarantee")
    post(sender=alice, conversation=direct, body="hello")
    ids = list(ArchiveRecord.objects.values_list("pk", flat=True))
    before = list(ReviewItem.objects.values_list("pk", "record_id", "reason"))

    services.records_evaluate(record_ids=ids)
    services.records_evaluate(record_ids=ids)

    assert list(ReviewItem.objects.values_list("pk", "record_id", "reason")) == before
    assert sorted(r for _, _, r in before) == ["lexicon", "sample"]
    assert SupervisionEvaluation.objects.count() == 2


def test_an_edit_is_judged_on_its_new_text(
    alice, direct, make_policy, post, django_capture_on_commit_callbacks
):
    make_policy(people=["alice"], lexicon=["guarantee"])
    message = post(sender=alice, conversation=direct, body="hello")

    with django_capture_on_commit_callbacks(execute=True):
        chat.message_edit(editor=alice, message_id=message.pk, body="I guarantee it")

    item = ReviewItem.objects.get()
    assert item.message_id == message.pk
    assert item.matched == ["guarantee"]


def test_a_batch_of_posts_queues_one_follow_up_task_with_every_record(
    alice, direct, make_policy, post, settings, django_capture_on_commit_callbacks
):
    post(sender=alice, conversation=direct, body="first")  # the chain starts one by one
    settings.PARLEY_CAPTURE_FOLLOW_UP_TASKS = ["tests.supervision.test_services.recorder"]
    recorder.calls.clear()

    with django_capture_on_commit_callbacks(execute=True):
        results = message_post_batch(
            requests=[
                {
                    "sender": alice,
                    "conversation_id": direct.pk,
                    "body": f"b{n}",
                    "client_id": f"b{n}",
                }
                for n in range(3)
            ]
        )

    message_ids = [message.pk for message, _ in results]
    record_ids = list(
        ArchiveRecord.objects.filter(message_id__in=message_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert recorder.calls == [record_ids]


def test_a_refused_post_queues_nothing(
    alice, bob, make_person, settings, django_capture_on_commit_callbacks
):
    settings.PARLEY_CAPTURE_FOLLOW_UP_TASKS = ["tests.supervision.test_services.recorder"]
    recorder.calls.clear()
    theirs, _ = chat.conversation_direct_get_or_create(person=bob, other=make_person("zed"))

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(NotFound):
        chat.message_post(sender=alice, conversation_id=theirs.pk, body="x", client_id="x")

    assert recorder.calls == []
    assert not ArchiveRecord.objects.filter(event="message.posted").exists()


def test_the_sweep_judges_what_no_task_reached_and_only_once(
    alice, direct, make_policy, post, settings
):
    make_policy(people=["alice"], lexicon=["guarantee"])
    settings.PARLEY_CAPTURE_FOLLOW_UP_TASKS = []  # the task was lost
    settings.PARLEY_SUPERVISION_SETTLE_SECONDS = 0
    SupervisionCursor.objects.update_or_create(pk=1, defaults={"last_record_id": 0})
    post(sender=alice, conversation=direct, body="I guarantee")
    assert not SupervisionEvaluation.objects.exists()

    first = services.records_sweep()
    second = services.records_sweep()

    assert (first.evaluated, first.items) == (1, 1)
    assert (second.evaluated, second.items) == (0, 0)
    assert ReviewItem.objects.count() == 1
    assert SupervisionCursor.objects.get().last_record_id == ArchiveRecord.objects.latest("pk").pk


# -- policies ---------------------------------------------------------------------------------


def test_policy_create_is_audited_with_what_it_says(sam, make_policy):
    policy = make_policy(people=["sam"], lexicon=["guarantee"], sample_percent=2.5)

    entry = AuditEntry.objects.get(action="supervision.policy_create")
    assert entry.actor_username == "sam"
    assert entry.target == f"supervision policy {policy.pk}"
    assert entry.parameters["lexicon"] == ["guarantee"]
    assert entry.parameters["sample_percent"] == 2.5


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"lexicon": ['"never closed']}, "lexicon[0]"),
        ({"lexicon": ["ok", "-alone"]}, "lexicon[1]"),
        ({"sample_percent": 101}, "sample_percent"),
        ({"sample_percent": True}, "sample_percent"),
        ({"scope": "everywhere"}, "scope must be one of"),
        ({"people": ["nobody"]}, "no person named nobody"),
        ({"reviewers": ["alice"]}, "not in the Supervision group"),
        ({"people": [], "lexicon": ["x"]}, "must supervise someone"),
        ({"lexicon": [], "sample_percent": 0}, "never flag anything"),
        ({"start": "2026-05-01", "end": "2026-04-01"}, "end"),
    ],
)
def test_policy_create_refuses_bad_input_and_writes_nothing(alice, make_policy, fields, fragment):
    fields = {"people": ["alice"], "lexicon": ["x"], **fields}

    with pytest.raises(InvalidInput) as refusal:
        make_policy(**fields)

    assert fragment in refusal.value.detail
    assert not SupervisionPolicy.objects.exists()
    assert not AuditEntry.objects.exists()


# -- the review queue -------------------------------------------------------------------------


@pytest.fixture
def item(alice, direct, make_policy, post):
    make_policy(people=["alice"], lexicon=["guarantee"])
    post(sender=alice, conversation=direct, body="I guarantee it")
    return ReviewItem.objects.get()


def test_claim_then_resolve_records_the_decision_and_audits_both(item, sam):
    services.item_claim(actor=sam, item_id=item.pk)
    services.item_resolve(actor=sam, item_id=item.pk, decision="violation", comment="Promise.")

    item.refresh_from_db()
    assert (item.status, item.reviewer, item.decision, item.comment) == (
        "resolved",
        sam,
        "violation",
        "Promise.",
    )
    entries = AuditEntry.objects.filter(action__startswith="supervision.item").order_by("sequence")
    assert [(e.action, e.parameters.get("decision")) for e in entries] == [
        ("supervision.item_claim", None),
        ("supervision.item_resolve", "violation"),
    ]
    assert entries[1].parameters["comment"] == "Promise."


def test_an_item_claimed_by_another_reviewer_cannot_be_claimed_or_resolved(
    item, sam, make_reviewer, supervision_group
):
    rita = make_reviewer("rita")
    item.policy.reviewers.add(rita)
    services.item_claim(actor=sam, item_id=item.pk)
    audit_before = _audit_actions()

    with pytest.raises(Conflict) as claim:
        services.item_claim(actor=rita, item_id=item.pk)
    with pytest.raises(Conflict) as resolve:
        services.item_resolve(actor=rita, item_id=item.pk, decision="compliant")

    assert claim.value.code == resolve.value.code == "claimed_by_other"
    item.refresh_from_db()
    assert (item.status, item.reviewer_id, item.decision) == ("claimed", sam.pk, "")
    assert _audit_actions() == audit_before


def test_reassign_hands_the_item_to_another_reviewer_of_the_policy(item, sam, make_reviewer):
    rita = make_reviewer("rita")
    outsider = make_reviewer("otto")
    item.policy.reviewers.add(rita)
    services.item_claim(actor=sam, item_id=item.pk)

    with pytest.raises(InvalidInput):
        services.item_reassign(actor=sam, item_id=item.pk, reviewer="otto")
    services.item_reassign(actor=sam, item_id=item.pk, reviewer="rita")
    services.item_resolve(actor=rita, item_id=item.pk, decision="compliant")

    item.refresh_from_db()
    assert (item.reviewer, item.decision) == (rita, "compliant")
    entry = AuditEntry.objects.get(action="supervision.item_reassign")
    assert (entry.parameters["previous"], entry.parameters["reviewer"]) == ("sam", "rita")
    assert outsider.pk not in set(item.policy.reviewers.values_list("pk", flat=True))


def test_a_reviewer_of_another_policy_cannot_reach_the_item(item, make_reviewer):
    stranger = make_reviewer("stranger")

    with pytest.raises(NotFound):
        services.item_claim(actor=stranger, item_id=item.pk)

    item.refresh_from_db()
    assert item.status == "open"


def test_an_escalation_can_open_a_case_with_a_hold_on_the_sender_and_conversation(item, sam):
    services.item_resolve(
        actor=sam,
        item_id=item.pk,
        decision="escalated",
        comment="Looks like a guarantee to a client.",
        open_case=True,
    )

    item.refresh_from_db()
    case = Case.objects.get()
    hold = LegalHold.objects.get()
    assert item.case_id == case.pk
    assert case.owner.username == "sam"
    assert case.description == "Looks like a guarantee to a client."
    assert list(hold.custodians.values_list("username", flat=True)) == ["alice"]
    assert hold.conversation_ids == [item.conversation_id]
    assert _audit_actions()[-3:] == ["case.create", "hold.place", "supervision.item_resolve"]


def test_resolve_refuses_a_missing_comment_and_a_case_for_a_violation(item, sam):
    audit_before = _audit_actions()

    with pytest.raises(InvalidInput):
        services.item_resolve(actor=sam, item_id=item.pk, decision="violation")
    with pytest.raises(InvalidInput):
        services.item_resolve(
            actor=sam, item_id=item.pk, decision="violation", comment="x", open_case=True
        )
    with pytest.raises(InvalidInput):
        services.item_resolve(actor=sam, item_id=item.pk, decision="maybe")

    item.refresh_from_db()
    assert item.status == "open"
    assert not Case.objects.exists()
    assert _audit_actions() == audit_before


def test_viewing_an_item_shows_its_conversation_around_it_and_is_audited(
    alice, bob, direct, item, sam, post
):
    post(sender=bob, conversation=direct, body="after that")

    _item, records = services.item_view(actor=sam, item_id=item.pk, before=5, after=5)

    assert [r.body for r in records if r.event == "message.posted"] == [
        "I guarantee it",
        "after that",
    ]
    entry = AuditEntry.objects.get(action="supervision.item_view")
    assert entry.parameters["records"] == [r.pk for r in records]
