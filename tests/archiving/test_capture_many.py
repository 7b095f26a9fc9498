"""capture_many (the batch path of posts) decides and appends as capture() does."""

import pytest
from django.utils import timezone

from archiving import services
from archiving.models import (
    ArchiveChain,
    ArchiveEvent,
    ArchiveParticipant,
    ArchiveRecord,
    ArchivingPolicy,
    ArchivingPolicyAssignment,
)
from archiving.selectors import archive_verify

pytestmark = pytest.mark.django_db


def _global(**fields) -> None:
    services.policy_global_get()
    if fields:
        ArchivingPolicy.objects.filter(is_global=True).update(**fields)


def _assign(person, **fields) -> None:
    name = "p" + "".join(f"{k}{int(v)}" for k, v in sorted(fields.items()))
    policy, _ = ArchivingPolicy.objects.get_or_create(name=name, defaults=fields)
    ArchivingPolicyAssignment.objects.create(person=person, policy=policy)


CONFIGURATIONS = {
    "global archives everything": lambda a, b: _global(),
    "global critical": lambda a, b: _global(is_critical=True),
    "everyone opted out": lambda a, b: (
        _assign(a, archive_internal=False),
        _assign(b, archive_internal=False),
    ),
    "one opted out, the other falls under global": lambda a, b: _assign(a, archive_internal=False),
    "an override archives critically": lambda a, b: (
        _global(archive_internal=False),
        _assign(a, archive_internal=True, is_critical=True),
        _assign(b, archive_internal=False),
    ),
    "global off, nobody overridden": lambda a, b: _global(
        archive_internal=False, archive_external=False
    ),
}


@pytest.mark.parametrize("is_external", [False, True])
@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_decide_many_matches_decide(configuration, is_external, alice, bob):
    CONFIGURATIONS[configuration](alice, bob)
    for person in (alice, bob):
        ArchiveParticipant.objects.create(conversation_id=7, person=person)

    one = services.archiving_decide(participant_ids=[alice.pk, bob.pk], is_external=is_external)
    many = services.archiving_decide_many(
        members=ArchiveParticipant.objects.filter(conversation_id=7).values(
            "conversation_id", "person_id"
        ),
        is_external={7: is_external},
    )

    assert many == {7: one}


def test_capture_many_extends_each_chain_as_capture_does(alice, bob):
    members = ArchiveParticipant.objects.values("conversation_id", "person_id")
    for conversation_id in (1, 2):
        ArchiveParticipant.objects.create(conversation_id=conversation_id, person=alice)
        services.capture(
            conversation_id=conversation_id,
            conversation_kind="group",
            is_external=False,
            participant_ids=[alice.pk],
            event=ArchiveEvent.CONVERSATION_CREATED,
            actor=alice,
            occurred_at=timezone.now(),
        )
    now = timezone.now()

    records = services.capture_many(
        events=[
            services.CaptureEvent(1, "group", False, ArchiveEvent.MESSAGE_POSTED, alice, now, "a"),
            services.CaptureEvent(2, "group", False, ArchiveEvent.MESSAGE_POSTED, alice, now, "b"),
            services.CaptureEvent(1, "group", False, ArchiveEvent.MESSAGE_POSTED, bob, now, "c"),
        ],
        members=members,
    )

    assert [(r.conversation_id, r.chain_index, r.body) for r in records] == [
        (1, 1, "a"),
        (2, 1, "b"),
        (1, 2, "c"),
    ]
    heads = {c.pk: (c.length, c.head_hash) for c in ArchiveChain.objects.all()}
    assert heads == {1: (3, records[2].record_hash), 2: (2, records[1].record_hash)}
    assert ArchiveRecord.objects.count() == 5
    assert archive_verify().is_intact


def test_capture_many_leaves_a_chain_start_to_capture(alice):
    with pytest.raises(services.CaptureNeedsOneByOne):
        services.capture_many(
            events=[
                services.CaptureEvent(
                    9, "direct", False, ArchiveEvent.MESSAGE_POSTED, alice, timezone.now(), "x"
                )
            ],
            members=ArchiveParticipant.objects.values("conversation_id", "person_id"),
        )
    assert not ArchiveRecord.objects.exists()
