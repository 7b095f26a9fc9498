"""The compliance audit trail: who searched, viewed, held, exported or purged what.

Design. Every compliance action appends one AuditEntry in the same transaction as the action
itself (an action that rolls back leaves no entry, an entry never describes an action that did
not happen). Entries form one hash chain whose head row is locked on append, so entries are
totally ordered; the volume is human-scale (officers' actions), so one chain is no bottleneck.
Parameters are stored as JSON after a round trip through json (dates become ISO text), so the
hash computed now is the hash recomputed from the stored row later.
"""

import json
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from archiving.chain import audit_canonical, audit_entry_canonical, link_hash
from archiving.models import GENESIS_HASH, AuditAction, AuditChain, AuditEntry
from directory.models import Person


@transaction.atomic
def audit_append(
    *,
    actor: Person | None,
    action: str,
    target: str = "",
    parameters: dict | None = None,
    result_count: int | None = None,
) -> AuditEntry:
    """Append one entry to the audit chain."""
    chain = AuditChain.objects.select_for_update().filter(pk=1).first()
    if chain is None:
        chain, _ = AuditChain.objects.get_or_create(pk=1)
        chain = AuditChain.objects.select_for_update().get(pk=1)
    params = json.loads(json.dumps(parameters or {}, default=str))
    fields = {
        "sequence": chain.length,
        "actor_id": actor.pk if actor is not None else None,
        "actor_username": actor.username if actor is not None else "",
        "action": action,
        "target": str(target)[:200],
        "parameters": params,
        "result_count": result_count,
        "occurred_at": timezone.now(),
    }
    record_hash = link_hash(chain.head_hash, audit_canonical(**fields))
    entry = AuditEntry.objects.create(**fields, prev_hash=chain.head_hash, record_hash=record_hash)
    chain.length += 1
    chain.head_hash = record_hash
    chain.save(update_fields=["length", "head_hash"])
    return entry


def audit_refusal_append(*, actor: Person, method: str, path: str, reason: str) -> AuditEntry:
    """Append the refusal of a compliance endpoint or page: who, which path, why.

    The path only: neither the query string nor the body, which may carry the very search or
    hold the caller was not allowed to make.
    """
    return audit_append(
        actor=actor,
        action=AuditAction.ACCESS_REFUSED,
        target=path,
        parameters={"method": method, "reason": reason},
    )


@dataclass
class AuditVerifyReport:
    entries: int = 0
    broken_at: int | None = None
    reason: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def is_intact(self) -> bool:
        return self.broken_at is None


def audit_verify() -> AuditVerifyReport:
    """Re-walk the audit chain; report the first broken link."""
    report = AuditVerifyReport()
    expected_prev = GENESIS_HASH
    expected_sequence = 0
    for entry in AuditEntry.objects.order_by("sequence").iterator(chunk_size=2000):
        report.entries += 1
        if entry.sequence != expected_sequence:
            report.broken_at = expected_sequence
            report.reason = f"entry {expected_sequence} is missing"
            return report
        if entry.prev_hash != expected_prev:
            report.broken_at = entry.sequence
            report.reason = "previous hash does not match the entry before it"
            return report
        if link_hash(entry.prev_hash, audit_entry_canonical(entry)) != entry.record_hash:
            report.broken_at = entry.sequence
            report.reason = "content does not match its hash (altered)"
            return report
        expected_prev = entry.record_hash
        expected_sequence += 1
    chain = AuditChain.objects.filter(pk=1).first()
    head_length = chain.length if chain else 0
    head_hash = chain.head_hash if chain else GENESIS_HASH
    if head_length != expected_sequence or head_hash != expected_prev:
        report.broken_at = expected_sequence
        report.reason = "the chain head does not match the last entry (entries removed)"
    return report
