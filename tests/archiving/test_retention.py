import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from archiving import holds, retention
from archiving.models import (
    ArchiveEvent,
    ArchiveRecord,
    AuditAction,
    AuditEntry,
    ChainGap,
    RetentionPolicy,
    RetentionPurge,
)
from archiving.retention import run as retention_run_module
from archiving.selectors import archive_verify
from directory.exceptions import InvalidInput
from tests.archiving.conftest import day

pytestmark = pytest.mark.django_db

DIRECT, OTHER, ROOM = 101, 102, 103


def _chain(archive_record, conversation_id, actors, *, start=0, bodies=None, kind="direct"):
    """Capture one record a day per actor, starting at day `start`."""
    people = list(dict.fromkeys(actors))
    return [
        archive_record(
            conversation_id=conversation_id,
            actor=actor,
            at=start + i,
            body=(bodies[i] if bodies else f"line {i}"),
            participants=people,
            kind=kind,
        )
        for i, actor in enumerate(actors)
    ]


def _policy(officer, **data):
    policy, _ = retention.retention_policy_save(actor=officer, data=data)
    return policy


def _remaining(conversation_id):
    return list(
        ArchiveRecord.objects.filter(conversation_id=conversation_id)
        .order_by("chain_index")
        .values_list("chain_index", flat=True)
    )


def _case(officer):
    return holds.case_create(actor=officer, name="Project Falcon")


def test_without_any_policy_nothing_is_purged(archive_record, alice, bob):
    _chain(archive_record, DIRECT, [alice, bob, alice])

    result = retention.retention_run(now=day(10_000))

    assert result.records == 0
    assert _remaining(DIRECT) == [0, 1, 2]
    entry = AuditEntry.objects.get(action=AuditAction.RETENTION_RUN)
    assert (entry.result_count, entry.parameters["records_purged"]) == (0, 0)


def test_global_policy_purges_only_records_past_retention(archive_record, alice, bob, officer):
    _chain(archive_record, DIRECT, [alice, bob, alice, bob])  # days 0..3
    _policy(officer, scope="global", days=30)

    result = retention.retention_run(now=day(32.5))  # days 0..2 are past 30 days

    assert result.records == 3
    assert _remaining(DIRECT) == [3]
    assert archive_verify().is_intact


def test_a_held_record_survives_a_run_past_retention(archive_record, alice, bob, carol, officer):
    _chain(archive_record, DIRECT, [alice, bob])
    _chain(archive_record, OTHER, [carol, carol])
    _policy(officer, scope="global", days=30)
    holds.hold_place(actor=officer, case_id=_case(officer).pk, custodians=["bob"])

    result = retention.retention_run(now=day(100))

    assert result.records == 2  # carol's conversation only
    assert (_remaining(DIRECT), _remaining(OTHER)) == ([0, 1], [])
    assert result.held == 2
    assert archive_verify().is_intact


def test_a_released_hold_lets_the_next_run_purge(archive_record, alice, bob, officer):
    _chain(archive_record, DIRECT, [alice, bob])
    _policy(officer, scope="global", days=30)
    hold = holds.hold_place(actor=officer, case_id=_case(officer).pk, conversations=[DIRECT])
    retention.retention_run(now=day(100))
    assert _remaining(DIRECT) == [0, 1]

    holds.hold_release(actor=officer, hold_id=hold.pk, reason="Matter settled")
    result = retention.retention_run(now=day(100))

    assert result.records == 2
    assert _remaining(DIRECT) == []
    assert archive_verify().is_intact


def test_a_hold_placed_before_a_shorter_policy_still_keeps(archive_record, alice, bob, officer):
    _chain(archive_record, DIRECT, [alice, bob])
    policy = _policy(officer, scope="global", days=3650)
    holds.hold_place(actor=officer, case_id=_case(officer).pk, custodians=["alice"])

    retention.retention_policy_save(actor=officer, policy_id=policy.pk, data={"days": 1})
    result = retention.retention_run(now=day(100))

    assert result.records == 0
    assert _remaining(DIRECT) == [0, 1]


def test_a_passive_custodian_keeps_conversations_after_their_first_records_go(
    archive_record, alice, bob, officer
):
    # bob never says anything; the record that shows him joining is purged first.
    archive_record(
        conversation_id=DIRECT,
        actor=alice,
        at=0,
        participants=[alice, bob],
        event=ArchiveEvent.CONVERSATION_CREATED,
    )
    archive_record(conversation_id=DIRECT, actor=alice, at=50, body="just me")
    _policy(officer, scope="global", days=30)
    retention.retention_run(now=day(45))
    assert _remaining(DIRECT) == [1]

    holds.hold_place(actor=officer, case_id=_case(officer).pk, custodians=["bob"])
    retention.retention_run(now=day(200))

    assert _remaining(DIRECT) == [1]


def test_the_longest_retention_wins(archive_record, alice, bob, carol, officer):
    _chain(archive_record, DIRECT, [alice, bob])  # bob takes part
    _chain(archive_record, OTHER, [alice, carol])
    _policy(officer, scope="global", days=30)
    _policy(officer, scope="person", person="bob", days=365)
    _policy(officer, scope="person", person="carol", days=5)  # shorter: the global wins

    retention.retention_run(now=day(100))

    assert (_remaining(DIRECT), _remaining(OTHER)) == ([0, 1], [])
    retention.retention_run(now=day(400))
    assert _remaining(DIRECT) == []


def test_a_room_policy_applies_to_that_room_only(archive_record, alice, bob, officer):
    _chain(archive_record, ROOM, [alice, bob], kind="room")
    _chain(archive_record, DIRECT, [alice, bob])
    _policy(officer, scope="conversation", conversation=ROOM, days=10)

    result = retention.retention_run(now=day(50))

    assert result.records == 2
    assert (_remaining(ROOM), _remaining(DIRECT)) == ([], [0, 1])


def test_a_person_policy_alone_purges_their_conversations(
    archive_record, alice, bob, carol, officer
):
    _chain(archive_record, DIRECT, [alice, bob])
    _chain(archive_record, OTHER, [carol])
    _policy(officer, scope="person", person="bob", days=10)

    retention.retention_run(now=day(50))

    assert (_remaining(DIRECT), _remaining(OTHER)) == ([], [0])


def test_inactive_policies_do_not_count(archive_record, alice, officer):
    _chain(archive_record, DIRECT, [alice])
    _policy(officer, scope="global", days=10, is_active=False)

    assert retention.retention_run(now=day(50)).records == 0


def _mixed_archive(archive_record, alice, bob, carol, officer):
    bodies = ["hello", "merger talk", "lunch", "merger again", "bye", "ok"]
    _chain(archive_record, DIRECT, [alice, bob] * 3, bodies=bodies)
    _chain(archive_record, ROOM, [carol, alice, carol], kind="room")
    _chain(archive_record, OTHER, [carol, carol])
    holds.hold_place(
        actor=officer, case_id=_case(officer).pk, conversations=[DIRECT], query="merger"
    )


def test_a_dry_run_counts_exactly_what_the_run_then_purges(
    archive_record, alice, bob, carol, officer
):
    _mixed_archive(archive_record, alice, bob, carol, officer)
    _policy(officer, scope="global", days=30)
    _policy(officer, scope="conversation", conversation=OTHER, days=3650)

    preview = retention.retention_dry_run(actor=officer, now=day(60))
    before = set(ArchiveRecord.objects.values_list("pk", "actor_username", "conversation_id"))
    result = retention.retention_run(now=day(60))
    after = set(ArchiveRecord.objects.values_list("pk", "actor_username", "conversation_id"))

    purged = before - after
    assert preview.as_dict() == {
        "records": 7,
        "held": 2,
        "per_person": {"alice": 4, "bob": 1, "carol": 2},
        "per_conversation": {
            str(DIRECT): {"kind": "direct", "records": 4},
            str(ROOM): {"kind": "room", "records": 3},
        },
    }
    assert result.records == len(purged) == 7
    assert sorted(u for _, u, _ in purged) == ["alice"] * 4 + ["bob"] + ["carol"] * 2


def test_holds_in_the_middle_of_a_chain_leave_anchored_gaps(
    archive_record, alice, bob, carol, officer
):
    _mixed_archive(archive_record, alice, bob, carol, officer)
    _policy(officer, scope="global", days=30)

    retention.retention_run(now=day(60))

    assert _remaining(DIRECT) == [1, 3]
    gaps = ChainGap.objects.filter(conversation_id=DIRECT).order_by("from_index")
    assert [(g.from_index, g.to_index) for g in gaps] == [(0, 0), (2, 2), (4, 5)]
    report = archive_verify()
    assert (report.is_intact, report.records, report.purges) == (True, 2, 1)


def _tamper(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def purged_with_holes(archive_record, alice, bob, carol, officer):
    _mixed_archive(archive_record, alice, bob, carol, officer)
    _policy(officer, scope="global", days=30)
    retention.retention_run(now=day(60))


def test_verify_after_purges_still_finds_an_altered_record(purged_with_holes):
    record = ArchiveRecord.objects.get(conversation_id=DIRECT, chain_index=3)
    _tamper("UPDATE archiving_archiverecord SET body = %s WHERE id = %s", ["x", record.pk])

    report = archive_verify()

    assert [(b.conversation_id, b.chain_index, b.reason) for b in report.broken] == [
        (DIRECT, 3, "content does not match its hash (record altered)")
    ]


def test_verify_after_purges_still_finds_an_unanchored_deletion(purged_with_holes):
    record = ArchiveRecord.objects.get(conversation_id=DIRECT, chain_index=1)
    _tamper("DELETE FROM archiving_archiverecord WHERE id = %s", [record.pk])

    report = archive_verify()

    assert [(b.chain_index, b.reason) for b in report.broken] == [
        (1, "expected link 1, found 3 (missing record)")
    ]


def test_verify_finds_a_forged_anchor(purged_with_holes):
    record = ArchiveRecord.objects.get(conversation_id=DIRECT, chain_index=1)
    gap = ChainGap.objects.get(conversation_id=DIRECT, from_index=2)
    ChainGap.objects.create(
        purge=gap.purge,
        conversation_id=DIRECT,
        from_index=1,
        to_index=1,
        prev_hash_before=record.prev_hash,
        prev_hash_after=record.record_hash,
    )
    _tamper("DELETE FROM archiving_archiverecord WHERE id = %s", [record.pk])

    report = archive_verify()

    assert report.broken == []
    assert len(report.anchor_problems) == 1
    assert "do not match the digest in audit entry" in report.anchor_problems[0]
    with pytest.raises(CommandError, match="1 broken chain"):
        call_command("archive_verify")


def test_verify_finds_a_rehashed_record_next_to_a_gap(purged_with_holes):
    # Altering the last record before a gap and rehashing it no longer joins the anchor.
    record = ArchiveRecord.objects.get(conversation_id=DIRECT, chain_index=1)
    from archiving.chain import link_hash, record_canonical

    record.body = "rewritten"
    _tamper(
        "UPDATE archiving_archiverecord SET body = %s, record_hash = %s WHERE id = %s",
        ["rewritten", link_hash(record.prev_hash, record_canonical(record)), record.pk],
    )

    report = archive_verify()

    assert [(b.chain_index, b.reason.split(" (")[0]) for b in report.broken] == [
        (2, "purge anchor 2..2 does not join the record before it")
    ]


def test_every_purge_is_audited_with_its_counts(
    archive_record, alice, bob, carol, officer, django_capture_on_commit_callbacks, monkeypatch
):
    forgotten = []
    monkeypatch.setattr(
        retention_run_module,
        "search_index_forget",
        lambda *, record_ids: forgotten.append(record_ids),
    )
    _chain(archive_record, DIRECT, [alice, bob])
    _chain(archive_record, OTHER, [carol])
    _policy(officer, scope="global", days=30)
    ids = sorted(ArchiveRecord.objects.values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        result = retention.retention_run(now=day(60))

    purge = RetentionPurge.objects.get()
    entry = AuditEntry.objects.filter(action=AuditAction.RETENTION_RUN).get()
    assert entry.actor is None
    assert entry.result_count == 3
    assert entry.parameters == {
        "run": str(result.run_id),
        "as_of": day(60).isoformat(),
        "records_purged": 3,
        "records_held": 0,
        "conversations": {str(DIRECT): 2, str(OTHER): 1},
        "gaps": 2,
        "gaps_digest": purge.gaps_digest,
    }
    assert (purge.records_purged, purge.audit_entry_id) == (3, entry.pk)
    assert [sorted(batch) for batch in forgotten] == [ids]


def test_a_run_in_batches_anchors_every_batch(archive_record, alice, bob, carol, officer):
    _chain(archive_record, DIRECT, [alice, bob])
    _chain(archive_record, OTHER, [carol])
    _policy(officer, scope="global", days=30)

    result = retention.retention_run(now=day(60), batch_conversations=1)

    assert (result.records, len(result.purges)) == (3, 2)
    assert AuditEntry.objects.filter(action=AuditAction.RETENTION_RUN).count() == 2
    assert archive_verify().is_intact


def test_a_second_run_purges_nothing_more(archive_record, alice, officer):
    _chain(archive_record, DIRECT, [alice, alice])
    _policy(officer, scope="global", days=30)
    retention.retention_run(now=day(60))

    assert retention.retention_run(now=day(60)).records == 0
    assert archive_verify().is_intact


def test_new_records_after_a_purge_chain_on(archive_record, alice, officer):
    _chain(archive_record, DIRECT, [alice, alice])
    _policy(officer, scope="global", days=30)
    retention.retention_run(now=day(60))

    archive_record(conversation_id=DIRECT, actor=alice, at=61, body="later")

    assert _remaining(DIRECT) == [2]
    assert archive_verify().is_intact


def test_retention_policy_changes_are_audited_with_their_dry_run(archive_record, alice, officer):
    _chain(archive_record, DIRECT, [alice, alice])
    policy, _ = retention.retention_policy_save(
        actor=officer, data={"scope": "global", "days": 30}, now=day(40)
    )
    retention.retention_policy_save(
        actor=officer, policy_id=policy.pk, data={"days": 3650}, now=day(40)
    )
    retention.retention_policy_delete(actor=officer, policy_id=policy.pk, now=day(40))

    entries = list(AuditEntry.objects.filter(action=AuditAction.RETENTION_CHANGE).order_by("pk"))
    shown = {"id": policy.pk, "scope": "global", "person": None, "conversation": None}
    assert [e.parameters["operation"] for e in entries] == ["create", "update", "delete"]
    assert entries[0].parameters == {
        "operation": "create",
        "previous": None,
        "policy": {**shown, "days": 30, "is_active": True},
        "as_of": day(40).isoformat(),
        "dry_run": {
            "records": 2,
            "held": 0,
            "per_person": {"alice": 2},
            "per_conversation": {str(DIRECT): {"kind": "direct", "records": 2}},
        },
    }
    assert [e.result_count for e in entries] == [2, 0, 0]
    assert entries[1].parameters["previous"] == {**shown, "days": 30, "is_active": True}
    assert entries[2].parameters["policy"] is None
    assert not RetentionPolicy.objects.exists()


def test_retention_policy_refuses_bad_input_and_writes_nothing(officer):
    cases = [
        ({"scope": "global", "days": 0}, "days must be a whole number"),
        ({"scope": "everyone", "days": 5}, "scope must be"),
        ({"scope": "person", "person": "nobody", "days": 5}, "no person named nobody"),
        ({"scope": "conversation", "days": 5}, "conversation must be"),
    ]
    for data, message in cases:
        with pytest.raises(InvalidInput, match=message):
            retention.retention_policy_save(actor=officer, data=data)

    assert not RetentionPolicy.objects.exists()
    assert not AuditEntry.objects.exists()


def test_retention_run_command_and_its_dry_run(archive_record, alice, officer, capsys):
    _chain(archive_record, DIRECT, [alice])
    _policy(officer, scope="global", days=1)

    call_command("retention_run", "--dry-run")
    assert "Dry run: 1 record(s) would be purged." in capsys.readouterr().out
    assert _remaining(DIRECT) == [0]

    call_command("retention_run")
    assert "1 record(s) purged, 0 kept by legal holds." in capsys.readouterr().out
    assert _remaining(DIRECT) == []


def test_the_beat_task_runs_retention(archive_record, alice, officer):
    from archiving.tasks import retention_run_task

    _chain(archive_record, DIRECT, [alice])
    _policy(officer, scope="global", days=1)

    assert retention_run_task.delay().get() == 1
