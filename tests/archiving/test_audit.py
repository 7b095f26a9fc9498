import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from archiving.access import is_compliance_officer
from archiving.audit import audit_append, audit_verify
from archiving.models import AuditAction, AuditChain, AuditEntry

pytestmark = pytest.mark.django_db


def test_audit_append_chains_entries_in_order(alice):
    first = audit_append(
        actor=alice, action=AuditAction.SEARCH, parameters={"query": "merger"}, result_count=3
    )
    second = audit_append(actor=alice, action=AuditAction.RECORD_VIEW, target="record 7")

    assert (first.sequence, second.sequence) == (0, 1)
    assert second.prev_hash == first.record_hash
    assert AuditChain.objects.get(pk=1).head_hash == second.record_hash
    report = audit_verify()
    assert (report.entries, report.is_intact) == (2, True)


def test_audit_verify_finds_an_altered_entry(alice):
    audit_append(actor=alice, action=AuditAction.SEARCH, parameters={"query": "merger"})
    entry = audit_append(actor=alice, action=AuditAction.SEARCH, parameters={"query": "bonus"})
    AuditEntry.objects.filter(pk=entry.pk).update(parameters={"query": "lunch"})

    report = audit_verify()

    assert (report.is_intact, report.broken_at) == (False, 1)
    assert "altered" in report.reason


def test_audit_verify_finds_a_removed_last_entry(alice):
    audit_append(actor=alice, action=AuditAction.SEARCH)
    last = audit_append(actor=alice, action=AuditAction.SEARCH)
    AuditEntry.objects.filter(pk=last.pk).delete()

    report = audit_verify()

    assert (report.is_intact, report.broken_at) == (False, 1)


def test_archive_verify_command_fails_on_a_broken_audit_trail(alice, capsys):
    entry = audit_append(actor=alice, action=AuditAction.SEARCH, parameters={"query": "x"})
    AuditEntry.objects.filter(pk=entry.pk).update(actor_username="mallory")

    with pytest.raises(CommandError):
        call_command("archive_verify")

    assert "BROKEN audit trail at entry 0" in capsys.readouterr().out


def test_only_the_compliance_group_is_compliance(alice, bob, django_user_model):
    from django.contrib.auth.models import Group

    bob.is_superuser = bob.is_staff = True
    bob.save()
    alice.groups.add(Group.objects.get(name="Compliance"))

    assert is_compliance_officer(alice) is True
    assert is_compliance_officer(bob) is False
