"""Which records retention would purge now: policy resolution, expiry, holds (see __init__)."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q

from archiving.holds import hold_covered_ids, holds_active
from archiving.models import ArchiveParticipant, ArchiveRecord, RetentionPolicy

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


def specs_current() -> dict[int, PolicySpec]:
    """Return the active policies by id."""
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


def expired_q(specs, now: datetime) -> Q | None:
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


def conversation_batches(expired: Q, size: int) -> list[list[int]]:
    """Return the conversations with expired records, in batches of `size`."""
    ids = sorted(
        ArchiveRecord.objects.filter(expired)
        .order_by()
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def records_doomed(expired: Q, conversation_ids: list[int], holds) -> tuple[list[Doomed], int]:
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


def preview_compute(specs, now: datetime) -> RetentionPreview:
    """Return what a run at `now` under these policies would purge (the run's own code)."""
    preview = RetentionPreview()
    expired = expired_q(specs, now)
    if expired is None:
        return preview
    holds = holds_active()
    for batch in conversation_batches(expired, BATCH_CONVERSATIONS):
        doomed, held = records_doomed(expired, batch, holds)
        preview.held += held
        for record in doomed:
            preview.records += 1
            preview.per_person[record.actor_username or "(system)"] += 1
            entry = preview.per_conversation.setdefault(
                record.conversation_id, {"kind": record.conversation_kind, "records": 0}
            )
            entry["records"] += 1
    return preview
