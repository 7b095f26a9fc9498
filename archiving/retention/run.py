"""The retention run: purge batch by batch, leaving audited chain gaps (see __init__)."""

import hashlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from django.db import transaction
from django.utils import timezone

from archiving.audit import audit_append
from archiving.holds import holds_active, retention_lock
from archiving.models import ArchiveRecord, AuditAction, ChainGap, RetentionPurge
from archiving.retention.plan import (
    BATCH_CONVERSATIONS,
    Doomed,
    conversation_batches,
    expired_q,
    records_doomed,
    specs_current,
)
from archiving.search.indexing import search_index_forget, search_index_pending
from directory.models import Person


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
    # Queued in the purge's transaction: a crash after commit cannot lose the removal.
    search_index_forget(record_ids=ids)
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
    expired = expired_q(list(specs_current().values()), now)
    batches = conversation_batches(expired, batch_conversations) if expired is not None else []
    for batch in batches:
        with transaction.atomic():
            retention_lock()
            doomed, held = records_doomed(expired, batch, holds_active())
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
    else:
        # A purged record leaves the search index in the same run, not at the next sweep.
        search_index_pending()
    return result
