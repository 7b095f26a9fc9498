"""Reads of the archive."""

from collections.abc import Iterator
from dataclasses import dataclass, field

from archiving.chain import link_hash, record_canonical
from archiving.models import GENESIS_HASH, ArchiveChain, ArchiveRecord


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
    broken: list[BrokenLink] = field(default_factory=list)

    @property
    def is_intact(self) -> bool:
        return not self.broken


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


def archive_verify() -> VerifyReport:
    """Re-walk every conversation's chain; report the first broken link of each chain."""
    report = VerifyReport()
    heads = {c.conversation_id: c for c in ArchiveChain.objects.all()}
    current: int | None = None
    expected_prev = GENESIS_HASH
    expected_index = 0
    chain_is_broken = False

    def close_chain(conversation_id: int) -> None:
        head = heads.pop(conversation_id, None)
        if chain_is_broken:
            return
        if head is None:
            report.broken.append(
                BrokenLink(conversation_id, expected_index, None, "chain head is missing")
            )
        elif head.length != expected_index or head.head_hash != expected_prev:
            report.broken.append(
                BrokenLink(
                    conversation_id,
                    expected_index,
                    None,
                    f"chain head says {head.length} records ending {head.head_hash[:12]}, "
                    f"the records give {expected_index} ending {expected_prev[:12]} "
                    "(records were removed from the end)",
                )
            )

    for record in _records_by_chain():
        if record.conversation_id != current:
            if current is not None:
                close_chain(current)
            current = record.conversation_id
            report.chains += 1
            expected_prev, expected_index, chain_is_broken = GENESIS_HASH, 0, False
        report.records += 1
        if chain_is_broken:
            continue
        reason = None
        if record.chain_index != expected_index:
            reason = f"expected link {expected_index}, found {record.chain_index} (missing record)"
        elif record.prev_hash != expected_prev:
            reason = "previous-hash does not match the record before it"
        elif link_hash(record.prev_hash, record_canonical(record)) != record.record_hash:
            reason = "content does not match its hash (record altered)"
        if reason:
            # For a gap, name the missing link; the record id is the one found after it.
            report.broken.append(
                BrokenLink(record.conversation_id, expected_index, record.pk, reason)
            )
            chain_is_broken = True
            continue
        expected_prev = record.record_hash
        expected_index += 1
    if current is not None:
        close_chain(current)
    for conversation_id, head in heads.items():
        if head.length:
            report.chains += 1
            report.broken.append(
                BrokenLink(conversation_id, 0, None, "chain head has no records (all removed)")
            )
    return report
