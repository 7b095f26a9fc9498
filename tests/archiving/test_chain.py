import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from archiving.chain import link_hash, record_canonical
from archiving.models import GENESIS_HASH, ArchiveChain, ArchiveRecord
from archiving.selectors import archive_verify
from chat import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice, bob):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    for i in range(5):
        services.message_post(
            sender=alice if i % 2 else bob, conversation_id=conversation.pk, body=f"line {i}"
        )
    return conversation


def test_each_record_hashes_its_content_onto_the_previous_hash(conversation):
    records = list(
        ArchiveRecord.objects.filter(conversation_id=conversation.pk).order_by("chain_index")
    )

    assert [r.chain_index for r in records] == list(range(6))  # created + 5 messages
    previous = GENESIS_HASH
    for record in records:
        assert record.prev_hash == previous
        assert record.record_hash == link_hash(previous, record_canonical(record))
        previous = record.record_hash
    head = ArchiveChain.objects.get(pk=conversation.pk)
    assert (head.length, head.head_hash) == (6, previous)


def test_chains_are_per_conversation(conversation, alice, carol):
    other, _ = services.conversation_direct_get_or_create(person=alice, other=carol)
    services.message_post(sender=alice, conversation_id=other.pk, body="separate chain")

    first = ArchiveRecord.objects.get(conversation_id=other.pk, chain_index=0)
    assert first.prev_hash == GENESIS_HASH
    assert ArchiveChain.objects.get(pk=other.pk).length == 2


def test_verify_reports_intact_chains(conversation):
    report = archive_verify()

    assert report.is_intact
    assert (report.chains, report.records) == (1, 6)


def _tamper(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_archive_verify_names_a_record_altered_in_the_database(conversation, capsys):
    target = ArchiveRecord.objects.get(conversation_id=conversation.pk, chain_index=3)
    _tamper("UPDATE archiving_archiverecord SET body = %s WHERE id = %s", ["line X", target.pk])

    with pytest.raises(CommandError, match="1 broken chain"):
        call_command("archive_verify")

    output = capsys.readouterr().out
    assert f"BROKEN conversation {conversation.pk} link 3 (record {target.pk})" in output
    assert "content does not match its hash" in output


def test_archive_verify_catches_a_deleted_record(conversation):
    target = ArchiveRecord.objects.get(conversation_id=conversation.pk, chain_index=2)
    _tamper("DELETE FROM archiving_archiverecord WHERE id = %s", [target.pk])

    report = archive_verify()

    assert [(b.chain_index, b.reason.split(" (")[0]) for b in report.broken] == [
        (2, "expected link 2, found 3")
    ]


def test_archive_verify_catches_records_cut_from_the_end(conversation):
    _tamper(
        "DELETE FROM archiving_archiverecord WHERE conversation_id = %s AND chain_index >= 4",
        [conversation.pk],
    )

    report = archive_verify()

    assert len(report.broken) == 1
    assert report.broken[0].record_id is None
    assert "removed from the end" in report.broken[0].reason


def test_archive_verify_catches_a_rehashed_record_that_breaks_the_link(conversation):
    # Someone who alters a record and recomputes its own hash still breaks the next link.
    target = ArchiveRecord.objects.get(conversation_id=conversation.pk, chain_index=2)
    target.body = "rewritten"
    new_hash = link_hash(target.prev_hash, record_canonical(target))
    _tamper(
        "UPDATE archiving_archiverecord SET body = %s, record_hash = %s WHERE id = %s",
        ["rewritten", new_hash, target.pk],
    )

    report = archive_verify()

    assert [(b.chain_index, b.reason) for b in report.broken] == [
        (3, "previous-hash does not match the record before it")
    ]


def test_archive_verify_command_succeeds_on_an_intact_archive(conversation, capsys):
    call_command("archive_verify")

    assert "1 chains, 6 records, 0 audit entries checked; all intact." in capsys.readouterr().out
