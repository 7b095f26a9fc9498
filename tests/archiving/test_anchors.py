"""Chain anchors: signed heads kept outside the database prove the archive against a rewrite."""

import json
import stat

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from archiving.anchors import chain_anchor_create
from archiving.chain import link_hash, record_canonical
from archiving.models import ArchiveChain, ArchiveRecord, AuditEntry, ChainAnchor
from archiving.tasks import chain_anchor_daily
from chat import services as chat

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    for body in ("first", "second", "third", "fourth"):
        chat.message_post(sender=alice, conversation_id=conversation.pk, body=body)
    return conversation


def _rewrite_from(conversation_id: int, chain_index: int, body: str) -> None:
    """Alter one record and recompute every hash from it through to the head, as someone with
    write access to the database would to hide the change from archive_verify."""
    records = ArchiveRecord.objects.filter(
        conversation_id=conversation_id, chain_index__gte=chain_index
    ).order_by("chain_index")
    prev = None
    for record in records:
        if record.chain_index == chain_index:
            record.body = body
        if prev is not None:
            record.prev_hash = prev
        record.record_hash = link_hash(record.prev_hash, record_canonical(record))
        record.save(update_fields=["body", "prev_hash", "record_hash"])
        prev = record.record_hash
    ArchiveChain.objects.filter(conversation_id=conversation_id).update(head_hash=prev)


def test_an_anchor_is_signed_stored_and_written_outside_the_database(conversation, settings):
    anchor = chain_anchor_create(reason="on_demand")

    path = settings.PARLEY_ANCHOR_DIR / anchor.file_name
    content = json.loads(path.read_text())
    document = json.loads(content["document"])
    chain = ArchiveChain.objects.get(conversation_id=conversation.pk)
    assert document["chains"][str(conversation.pk)] == [chain.length, chain.head_hash]
    assert document["audit"][0] == AuditEntry.objects.count()
    assert content["signature"] == anchor.signature
    assert content["algorithm"] == "Ed25519"
    key_mode = stat.S_IMODE(settings.PARLEY_SIGNING_KEY_PATH.stat().st_mode)
    assert key_mode == 0o600
    second = chain_anchor_daily()
    assert json.loads(ChainAnchor.objects.get(pk=second).document)["previous_anchor_sha256"]


def test_archive_verify_with_anchors_passes_an_untouched_archive_that_grew(
    conversation, alice, settings, capsys
):
    anchor = chain_anchor_create(reason="daily")
    chat.message_post(sender=alice, conversation_id=conversation.pk, body="later")

    call_command("archive_verify", "--anchors", str(settings.PARLEY_ANCHOR_DIR))

    out = capsys.readouterr().out
    assert "against 1 anchor(s)" in out
    assert "all intact" in out
    assert anchor.file_name


def test_a_rewrite_of_hashes_through_to_the_head_passes_the_walk_but_not_the_anchor(
    conversation, settings, capsys
):
    chain_anchor_create(reason="daily")
    outside = settings.PARLEY_ANCHOR_DIR  # a copy held elsewhere

    _rewrite_from(conversation.pk, 2, "a different second message")

    call_command("archive_verify")  # the chain alone is consistent again: the walk passes
    assert "all intact" in capsys.readouterr().out
    with pytest.raises(CommandError, match="broken"):
        call_command("archive_verify", "--anchors", str(outside))
    out = capsys.readouterr().out
    head = ArchiveChain.objects.get(conversation_id=conversation.pk).length - 1
    assert "BROKEN anchor: anchor-" in out
    assert f"conversation {conversation.pk} link {head} has hash" in out
    assert "(rewritten or removed)" in out


def test_an_anchor_file_that_was_edited_is_refused(conversation, settings, capsys):
    anchor = chain_anchor_create(reason="daily")
    path = settings.PARLEY_ANCHOR_DIR / anchor.file_name
    content = json.loads(path.read_text())
    content["document"] = content["document"].replace('"daily"', '"on_demand"')
    path.write_text(json.dumps(content))

    with pytest.raises(CommandError):
        call_command("archive_verify", "--anchors", str(path))

    assert "the signature does not match its document" in capsys.readouterr().out
