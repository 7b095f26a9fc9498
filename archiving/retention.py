"""Retention: purge archive records past their policy's age, unless a legal hold covers them.

Design.
- Policies: one global, one per person, one per conversation (rooms are conversations), each a
  number of days; inactive policies do not count. A record's retention is the LONGEST of the
  global policy, its conversation's policy and the policies of everyone who took part in its
  conversation (ArchiveParticipant) or acted in it. No applicable policy: kept forever.
  Retention is thus the same for every record of a conversation, and a person's policy can
  only lengthen what the others' policies keep (Purview's "longest retention wins").
- A hold always wins: each batch takes the retention lock (archiving.holds.retention_lock),
  reads the active holds and deletes only expired records no hold covers, all in one
  transaction, so a hold placed at any moment is honoured by every batch that commits after it.
- The purge is the one sanctioned deletion of captured records, and it leaves a trace that
  keeps the chains verifiable: per purged run of consecutive links a ChainGap (conversation,
  from_index, to_index, the prev_hash the first purged record carried and the hash of the last
  one), per batch a RetentionPurge with its counts and the SHA-256 digest of its gaps, written
  in the same transaction as a RETENTION_RUN audit entry carrying that digest. archive_verify
  steps over exactly the recorded gaps (checking that they join the hashes around them) and
  checks every batch's gaps against the digest in the hash-chained audit trail. A record
  deleted any other way is still a missing link.
- A dry run computes exactly what a run at the same moment would purge (same code, no writes
  but its audit entry); a policy change records its dry-run numbers in its audit entry.
"""

import hashlib
import json
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from archiving.audit import audit_append
from archiving.holds import (
    hold_covered_ids,
    holds_active,
    people_by_username,
    retention_lock,
)
from archiving.models import (
    ArchiveParticipant,
    ArchiveRecord,
    AuditAction,
    ChainGap,
    RetentionPolicy,
    RetentionPurge,
)
from archiving.search.indexing import search_index_forget
from directory.exceptions import Conflict, InvalidInput, NotFound
from directory.models import Person

MAX_DAYS = 36_500
BATCH_CONVERSATIONS = 200
Scope = RetentionPolicy.Scope


@dataclass(frozen=True)
class PolicySpec:
    scope: str
    days: int
    person_id: int | None = None
    conversation_id: int | None = None


@dataclass
class Doomed:
    pk: int
    conversation_id: int
    conversation_kind: str
    actor_username: str
    chain_index: int
    prev_hash: str
    record_hash: str


@dataclass
class RetentionPreview:
    records: int = 0
    held: int = 0
    per_person: Counter = field(default_factory=Counter)
    per_conversation: dict = field(default_factory=dict)  # id -> {"kind", "records"}

    def as_dict(self) -> dict:
        return {
            "records": self.records,
            "held": self.held,
            "per_person": dict(sorted(self.per_person.items())),
            "per_conversation": {str(k): v for k, v in sorted(self.per_conversation.items())},
        }


# -- resolution -----------------------------------------------------------------------------


def _specs_current() -> dict[int, PolicySpec]:
    return {
        p.pk: PolicySpec(p.scope, p.days, p.person_id, p.conversation_id)
        for p in RetentionPolicy.objects.filter(is_active=True)
    }


def _days_by_conversation(specs) -> tuple[int | None, dict[int, int]]:
    """Return the global days and the conversations kept longer than that, with their days."""
    global_days = max((s.days for s in specs if s.scope == Scope.GLOBAL), default=None)
    longest: dict[int, int] = {}
    for spec in specs:
        if spec.scope == Scope.CONVERSATION:
            longest[spec.conversation_id] = max(longest.get(spec.conversation_id, 0), spec.days)
    person_days: dict[int, int] = {}
    for spec in specs:
        if spec.scope == Scope.PERSON:
            person_days[spec.person_id] = max(person_days.get(spec.person_id, 0), spec.days)
    if person_days:
        pairs = set(
            ArchiveParticipant.objects.filter(person_id__in=person_days).values_list(
                "conversation_id", "person_id"
            )
        )
        pairs |= set(
            ArchiveRecord.objects.filter(actor_id__in=person_days)
            .order_by()
            .values_list("conversation_id", "actor_id")
            .distinct()
        )
        for conversation_id, person_id in pairs:
            days = max(longest.get(conversation_id, 0), person_days[person_id])
            longest[conversation_id] = days
    if global_days is not None:
        longest = {c: d for c, d in longest.items() if d > global_days}
    return global_days, longest


def _expired_q(specs, now: datetime) -> Q | None:
    """Return the filter of records past their retention at `now`; None if nothing expires."""
    global_days, longest = _days_by_conversation(specs)
    by_days: dict[int, list[int]] = defaultdict(list)
    for conversation_id, days in longest.items():
        by_days[days].append(conversation_id)
    parts = [
        Q(conversation_id__in=ids, occurred_at__lt=now - timedelta(days=days))
        for days, ids in sorted(by_days.items())
    ]
    if global_days is not None:
        default = Q(occurred_at__lt=now - timedelta(days=global_days))
        if longest:
            default &= ~Q(conversation_id__in=list(longest))
        parts.append(default)
    if not parts:
        return None
    expired = parts[0]
    for part in parts[1:]:
        expired |= part
    return expired


def _conversation_batches(expired: Q, size: int) -> list[list[int]]:
    ids = sorted(
        ArchiveRecord.objects.filter(expired)
        .order_by()
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _doomed(expired: Q, conversation_ids: list[int], holds) -> tuple[list[Doomed], int]:
    """Return the expired records of these conversations that no hold covers, and how many
    expired records the holds keep."""
    records = ArchiveRecord.objects.filter(expired, conversation_id__in=conversation_ids)
    held: set[int] = set()
    for hold in holds:
        held |= hold_covered_ids(hold=hold, records=records)
    rows = records.order_by("conversation_id", "chain_index").values_list(
        "pk",
        "conversation_id",
        "conversation_kind",
        "actor_username",
        "chain_index",
        "prev_hash",
        "record_hash",
    )
    return [Doomed(*row) for row in rows.iterator(chunk_size=2000) if row[0] not in held], len(held)


def _preview(specs, now: datetime) -> RetentionPreview:
    preview = RetentionPreview()
    expired = _expired_q(specs, now)
    if expired is None:
        return preview
    holds = holds_active()
    for batch in _conversation_batches(expired, BATCH_CONVERSATIONS):
        doomed, held = _doomed(expired, batch, holds)
        preview.held += held
        for record in doomed:
            preview.records += 1
            preview.per_person[record.actor_username or "(system)"] += 1
            entry = preview.per_conversation.setdefault(
                record.conversation_id, {"kind": record.conversation_kind, "records": 0}
            )
            entry["records"] += 1
    return preview


# -- policies -------------------------------------------------------------------------------


def _policy_dict(policy: RetentionPolicy | None) -> dict | None:
    if policy is None:
        return None
    return {
        "id": policy.pk,
        "scope": policy.scope,
        "person": policy.person.username if policy.person_id else None,
        "conversation": policy.conversation_id,
        "days": policy.days,
        "is_active": policy.is_active,
    }


def policy_to_dict(policy: RetentionPolicy) -> dict:
    data = _policy_dict(policy)
    data.update(created_at=policy.created_at, updated_at=policy.updated_at)
    return data


def _days_parse(value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_DAYS:
        raise InvalidInput(f"days must be a whole number from 1 to {MAX_DAYS}.")
    return value


def _proposal_apply(policy: RetentionPolicy | None, data: dict) -> RetentionPolicy:
    """Return an unsaved policy: the existing one with the changes, or a new one."""
    if not isinstance(data, dict):
        raise InvalidInput("The policy must be an object.")
    allowed = {"days", "is_active"} | (
        set() if policy is not None else {"scope", "person", "conversation"}
    )
    unknown = sorted(set(data) - allowed)
    if unknown:
        fixed = " (scope and target are fixed once created)" if policy is not None else ""
        raise InvalidInput(f"Cannot set {', '.join(unknown)} of a retention policy{fixed}.")
    if policy is None:
        scope = data.get("scope")
        if scope not in Scope.values:
            raise InvalidInput("scope must be global, person or conversation.")
        policy = RetentionPolicy(scope=scope, days=_days_parse(data.get("days")))
        if scope == Scope.PERSON:
            (policy.person,) = people_by_username([data.get("person")], field="person")
        elif data.get("person") is not None:
            raise InvalidInput("Only a person policy names a person.")
        if scope == Scope.CONVERSATION:
            value = data.get("conversation")
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput("conversation must be a conversation id.")
            policy.conversation_id = value
        elif data.get("conversation") is not None:
            raise InvalidInput("Only a conversation policy names a conversation.")
    elif "days" in data:
        policy.days = _days_parse(data["days"])
    if "is_active" in data:
        if not isinstance(data["is_active"], bool):
            raise InvalidInput("is_active must be true or false.")
        policy.is_active = data["is_active"]
    return policy


def policy_validate(*, policy_id: int | None, data: dict) -> None:
    """Raise the service's error if this policy data would be refused (for forms)."""
    current = RetentionPolicy.objects.filter(pk=policy_id).first() if policy_id else None
    _proposal_apply(current, data)


def _specs_with(policy: RetentionPolicy | None, *, replacing: int | None) -> list[PolicySpec]:
    specs = _specs_current()
    specs.pop(replacing, None)
    result = list(specs.values())
    if policy is not None and policy.is_active:
        result.append(
            PolicySpec(policy.scope, policy.days, policy.person_id, policy.conversation_id)
        )
    return result


def _policy_locked(policy_id: int) -> RetentionPolicy:
    policy = RetentionPolicy.objects.select_for_update(of=("self",)).filter(pk=policy_id).first()
    if policy is None:
        raise NotFound(f"No retention policy {policy_id}.", code="retention_policy_not_found")
    return policy


def retention_dry_run(
    *,
    actor: Person | None,
    policy_id: int | None = None,
    data: dict | None = None,
    delete: bool = False,
    now: datetime | None = None,
) -> RetentionPreview:
    """Return what a run would purge with the proposed policy change, without saving it.

    Without data (and without delete), what the next run would purge under the current policies.
    """
    now = now or timezone.now()
    current = None
    if policy_id is not None:
        current = RetentionPolicy.objects.select_related("person").filter(pk=policy_id).first()
        if current is None:
            raise NotFound(f"No retention policy {policy_id}.", code="retention_policy_not_found")
    previous = _policy_dict(current)
    if data is None and not delete:  # no change: what the next run would purge
        proposed = current
        preview = _preview(list(_specs_current().values()), now)
        target = "retention policies (current)"
    else:
        proposed = None if delete else _proposal_apply(current, data or {})
        preview = _preview(_specs_with(proposed, replacing=policy_id), now)
        target = f"retention policy {policy_id}" if policy_id else "retention policy (new)"
    audit_append(
        actor=actor,
        action=AuditAction.RETENTION_DRY_RUN,
        target=target,
        parameters={
            "previous": previous,
            "proposed": _policy_dict(proposed) if proposed else None,
            "as_of": now.isoformat(),
            "dry_run": preview.as_dict(),
        },
        result_count=preview.records,
    )
    return preview


@transaction.atomic
def retention_policy_save(
    *,
    actor: Person | None,
    policy_id: int | None = None,
    data: dict,
    now: datetime | None = None,
) -> tuple[RetentionPolicy, RetentionPreview]:
    """Create or change a retention policy; the audit entry carries its dry run."""
    now = now or timezone.now()
    current = _policy_locked(policy_id) if policy_id is not None else None
    previous = _policy_dict(current)
    policy = _proposal_apply(current, data)
    preview = _preview(_specs_with(policy, replacing=policy_id), now)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise Conflict(
            "A retention policy for that scope and target exists already; change it instead.",
            code="retention_policy_exists",
        ) from None
    audit_append(
        actor=actor,
        action=AuditAction.RETENTION_CHANGE,
        target=f"retention policy {policy.pk}",
        parameters={
            "operation": "update" if current else "create",
            "previous": previous,
            "policy": _policy_dict(policy),
            "as_of": now.isoformat(),
            "dry_run": preview.as_dict(),
        },
        result_count=preview.records,
    )
    return policy, preview


@transaction.atomic
def retention_policy_delete(
    *, actor: Person | None, policy_id: int, now: datetime | None = None
) -> RetentionPreview:
    """Delete a retention policy; the audit entry carries its dry run."""
    now = now or timezone.now()
    policy = _policy_locked(policy_id)
    previous = _policy_dict(policy)
    preview = _preview(_specs_with(None, replacing=policy_id), now)
    policy.delete()
    audit_append(
        actor=actor,
        action=AuditAction.RETENTION_CHANGE,
        target=f"retention policy {policy_id}",
        parameters={
            "operation": "delete",
            "previous": previous,
            "policy": None,
            "as_of": now.isoformat(),
            "dry_run": preview.as_dict(),
        },
        result_count=preview.records,
    )
    return preview


# -- the run --------------------------------------------------------------------------------


def gaps_digest(gaps: list[tuple]) -> str:
    """Return the SHA-256 of a batch's gaps (conversation, from, to, before, after), sorted."""
    text = json.dumps(sorted(list(g) for g in gaps), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _gaps_of(doomed: list[Doomed]) -> list[tuple]:
    gaps = []
    for conversation_id, group in groupby(doomed, key=lambda d: d.conversation_id):
        run: list[Doomed] = []
        for record in [*group, None]:
            if record is not None and run and record.chain_index == run[-1].chain_index + 1:
                run.append(record)
                continue
            if run:
                gaps.append(
                    (
                        conversation_id,
                        run[0].chain_index,
                        run[-1].chain_index,
                        run[0].prev_hash,
                        run[-1].record_hash,
                    )
                )
            run = [record] if record is not None else []
    return gaps


def _purge(*, actor, run_id, now, doomed: list[Doomed], held: int) -> RetentionPurge:
    gaps = _gaps_of(doomed)
    digest = gaps_digest(gaps)
    counts = Counter(str(d.conversation_id) for d in doomed)
    ids = [d.pk for d in doomed]
    for start in range(0, len(ids), 5000):
        ArchiveRecord.objects.filter(pk__in=ids[start : start + 5000]).delete()
    entry = audit_append(
        actor=actor,
        action=AuditAction.RETENTION_RUN,
        target=f"retention run {run_id}",
        parameters={
            "run": str(run_id),
            "as_of": now.isoformat(),
            "records_purged": len(ids),
            "records_held": held,
            "conversations": dict(sorted(counts.items())),
            "gaps": len(gaps),
            "gaps_digest": digest,
        },
        result_count=len(ids),
    )
    purge = RetentionPurge.objects.create(
        run_id=run_id,
        run_at=timezone.now(),
        records_purged=len(ids),
        conversations=dict(counts),
        gaps_digest=digest,
        audit_entry=entry,
    )
    ChainGap.objects.bulk_create(
        ChainGap(
            purge=purge,
            conversation_id=c,
            from_index=low,
            to_index=high,
            prev_hash_before=before,
            prev_hash_after=after,
        )
        for c, low, high, before, after in gaps
    )
    transaction.on_commit(lambda: search_index_forget(record_ids=ids), robust=True)
    return purge


@dataclass
class RetentionRunResult:
    run_id: uuid.UUID
    records: int = 0
    held: int = 0
    purges: list[RetentionPurge] = field(default_factory=list)


def retention_run(
    *,
    actor: Person | None = None,
    now: datetime | None = None,
    batch_conversations: int = BATCH_CONVERSATIONS,
) -> RetentionRunResult:
    """Purge the records past retention that no active hold covers, batch by batch."""
    now = now or timezone.now()
    result = RetentionRunResult(run_id=uuid.uuid4())
    expired = _expired_q(list(_specs_current().values()), now)
    batches = _conversation_batches(expired, batch_conversations) if expired is not None else []
    for batch in batches:
        with transaction.atomic():
            retention_lock()
            doomed, held = _doomed(expired, batch, holds_active())
            result.held += held
            if doomed:
                result.purges.append(
                    _purge(actor=actor, run_id=result.run_id, now=now, doomed=doomed, held=held)
                )
                result.records += len(doomed)
    if not result.purges:
        audit_append(
            actor=actor,
            action=AuditAction.RETENTION_RUN,
            target=f"retention run {result.run_id}",
            parameters={
                "run": str(result.run_id),
                "as_of": now.isoformat(),
                "records_purged": 0,
                "records_held": result.held,
                "conversations": {},
                "gaps": 0,
                "gaps_digest": gaps_digest([]),
            },
            result_count=0,
        )
    return result
