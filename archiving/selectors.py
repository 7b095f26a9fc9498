"""Reads of the archive."""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from django.db import connection, transaction
from django.db.models import F

from archiving.audit import AuditVerifyReport, audit_verify
from archiving.chain import link_hash, record_canonical
from archiving.models import (
    GENESIS_HASH,
    ArchiveChain,
    ArchiveRecord,
    AuditEntry,
    Case,
    ChainGap,
    LegalHold,
    RetentionPurge,
    SavedSearch,
)


@dataclass
class BrokenLink:
    conversation_id: int
    chain_index: int
    record_id: int | None
    reason: str


@dataclass
class VerifyReport:
    chains: int = 0
    records: int = 0
    purges: int = 0
    broken: list[BrokenLink] = field(default_factory=list)
    anchor_problems: list[str] = field(default_factory=list)

    @property
    def is_intact(self) -> bool:
        return not self.broken and not self.anchor_problems


def _records_by_chain() -> Iterator[ArchiveRecord]:
    return (
        ArchiveRecord.objects.order_by("conversation_id", "chain_index")
        .only(
            "id",
            "conversation_id",
            "conversation_kind",
            "is_external",
            "chain_index",
            "event",
            "message_id",
            "message_seq",
            "actor_id",
            "actor_username",
            "body",
            "payload",
            "occurred_at",
            "prev_hash",
            "record_hash",
        )
        .iterator(chunk_size=2000)
    )


def _walk_chain(
    report: VerifyReport,
    conversation_id: int,
    records: Iterable[ArchiveRecord],
    gaps: dict[int, ChainGap],
    head: ArchiveChain | None,
) -> None:
    """Walk one chain from GENESIS, stepping over the purged ranges retention recorded."""
    expected_prev, expected_index = GENESIS_HASH, 0

    def broken(index: int, record_id: int | None, reason: str) -> None:
        report.broken.append(BrokenLink(conversation_id, index, record_id, reason))

    def step_over_gaps() -> bool:
        nonlocal expected_prev, expected_index
        while expected_index in gaps:
            gap = gaps.pop(expected_index)
            if gap.prev_hash_before != expected_prev:
                broken(
                    expected_index,
                    None,
                    f"purge anchor {gap.from_index}..{gap.to_index} does not join the record "
                    "before it (record altered or anchor forged)",
                )
                return False
            expected_index, expected_prev = gap.to_index + 1, gap.prev_hash_after
        return True

    for record in records:
        report.records += 1
        if not step_over_gaps():
            for _ in records:  # count the rest of this chain, nothing more to check
                report.records += 1
            return
        reason = None
        if record.chain_index != expected_index:
            reason = f"expected link {expected_index}, found {record.chain_index} (missing record)"
        elif record.prev_hash != expected_prev:
            reason = "previous-hash does not match the record before it"
        elif link_hash(record.prev_hash, record_canonical(record)) != record.record_hash:
            reason = "content does not match its hash (record altered)"
        if reason:
            # For a gap, name the missing link; the record id is the one found after it.
            broken(expected_index, record.pk, reason)
            for _ in records:
                report.records += 1
            return
        expected_prev = record.record_hash
        expected_index += 1
    if not step_over_gaps():
        return
    if gaps:
        broken(expected_index, None, "a purge anchor lies beyond the end of the chain")
    elif head is None:
        broken(expected_index, None, "chain head is missing")
    elif head.length != expected_index or head.head_hash != expected_prev:
        if expected_index == 0:
            broken(0, None, "chain head has no records (all removed)")
        else:
            broken(
                expected_index,
                None,
                f"chain head says {head.length} records ending {head.head_hash[:12]}, "
                f"the records give {expected_index} ending {expected_prev[:12]} "
                "(records were removed from the end)",
            )


def _purges_verify(report: VerifyReport) -> None:
    """Check every purge batch's gaps against the digest kept in the audit trail."""
    from archiving.retention import gaps_digest  # the digest is retention's own definition

    gaps_by_purge: dict[int, list[tuple]] = defaultdict(list)
    for gap in ChainGap.objects.all().iterator(chunk_size=2000):
        gaps_by_purge[gap.purge_id].append(
            (
                gap.conversation_id,
                gap.from_index,
                gap.to_index,
                gap.prev_hash_before,
                gap.prev_hash_after,
            )
        )
    for purge in RetentionPurge.objects.select_related("audit_entry"):
        report.purges += 1
        digest = gaps_digest(gaps_by_purge.get(purge.pk, []))
        audited = purge.audit_entry.parameters.get("gaps_digest")
        if digest != audited or digest != purge.gaps_digest:
            report.anchor_problems.append(
                f"purge {purge.pk} (run {purge.run_id}): its purge anchors do not match the "
                f"digest in audit entry {purge.audit_entry.sequence} (anchors added or altered)"
            )


def archive_verify() -> VerifyReport:
    """Re-walk every conversation's chain; report the first broken link of each chain.

    Purged ranges (ChainGap rows) are stepped over, and the anchors themselves are checked
    against the digests in the audit trail.
    """
    report = VerifyReport()
    heads = {c.conversation_id: c for c in ArchiveChain.objects.all()}
    gaps: dict[int, dict[int, ChainGap]] = defaultdict(dict)
    for gap in ChainGap.objects.all().iterator(chunk_size=2000):
        gaps[gap.conversation_id][gap.from_index] = gap
    for conversation_id, records in groupby(_records_by_chain(), key=lambda r: r.conversation_id):
        report.chains += 1
        _walk_chain(
            report,
            conversation_id,
            records,
            gaps.pop(conversation_id, {}),
            heads.pop(conversation_id, None),
        )
    for conversation_id in sorted(set(heads) | set(gaps)):
        head = heads.get(conversation_id)
        chain_gaps = gaps.get(conversation_id, {})
        if (head is None or not head.length) and not chain_gaps:
            continue
        report.chains += 1
        _walk_chain(report, conversation_id, iter(()), chain_gaps, head)
    _purges_verify(report)
    return report


def case_list(*, status: str | None = None) -> list[Case]:
    """Return cases, newest first, optionally only open or closed ones."""
    cases = Case.objects.select_related("owner").order_by("-created_at", "-pk")
    if status:
        cases = cases.filter(status=status)
    return list(cases)


def hold_list(*, case_id: int) -> list[LegalHold]:
    """Return a case's holds, active first, newest first."""
    return list(
        LegalHold.objects.filter(case_id=case_id)
        .select_related("placed_by", "released_by")
        .prefetch_related("custodians")
        .order_by(F("released_at").desc(nulls_first=True), "-placed_at", "-pk")
    )


def saved_search_list(*, case_id: int) -> list[SavedSearch]:
    """Return a case's saved searches by name."""
    return list(
        SavedSearch.objects.filter(case_id=case_id).select_related("created_by").order_by("name")
    )


def audit_entry_list(
    *,
    actor_username: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_sequence: int | None = None,
    limit: int = 50,
) -> tuple[list[AuditEntry], int | None]:
    """Return a page of audit entries, newest first, and the cursor of the next page.

    The cursor is a sequence bound, so entries appended meanwhile never shift later pages.
    """
    entries = AuditEntry.objects.order_by("-sequence")
    if actor_username:
        entries = entries.filter(actor_username=actor_username)
    if action:
        entries = entries.filter(action=action)
    if since:
        entries = entries.filter(occurred_at__gte=since)
    if until:
        entries = entries.filter(occurred_at__lt=until)  # ends are exclusive (moments.py)
    if before_sequence is not None:
        entries = entries.filter(sequence__lt=before_sequence)
    page = list(entries[: limit + 1])
    next_cursor = page[limit - 1].sequence if len(page) > limit else None
    return page[:limit], next_cursor


def archive_and_audit_verify() -> tuple[VerifyReport, AuditVerifyReport]:
    """Verify the archive chains and the audit trail in one consistent snapshot.

    Outside a transaction this opens a read-only snapshot (REPEATABLE READ on PostgreSQL, one
    read transaction on SQLite), so a capture, an audit entry or a purge committing during the
    walk cannot look like a removed record or a head out of step.
    """
    if connection.in_atomic_block:
        return archive_verify(), audit_verify()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return archive_verify(), audit_verify()
