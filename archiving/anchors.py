"""Chain anchors: signed statements of every chain head, kept in and outside the database.

Design. archive_verify proves each chain is internally consistent, but someone with write
access to the database could rewrite the hashes from a record through to its chain's head
(and the head row) and leave a consistent chain. An anchor closes that: daily (Celery beat)
and on demand (`manage.py archive_anchor`) Parley signs, with its Ed25519 key
(archiving/signing.py), the length and head hash of every conversation chain and of the audit
chain, appends the signed document to ChainAnchor and writes it as a file to
PARLEY_ANCHOR_DIR, storage meant to be outside the database. Each anchor names the SHA-256 of
the one before it. `archive_verify --anchors FILE` checks anchor files held elsewhere: the
signature, and that the archive still has, at each anchored length, the hash the anchor
signed. A rewrite through to the head changes that hash, so it is caught.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from archiving.exports.manifest import canonical_json
from archiving.models import (
    ArchiveChain,
    ArchiveRecord,
    AuditChain,
    AuditEntry,
    ChainAnchor,
    ChainGap,
)
from archiving.signing import key_fingerprint, public_key_pem, sign, signature_is_valid

ANCHOR_VERSION = 1


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@transaction.atomic
def chain_anchor_create(*, reason: str) -> ChainAnchor:
    """Sign every chain head and the audit head; store the anchor and write its file."""
    now = timezone.now()
    previous = ChainAnchor.objects.select_for_update().order_by("-pk").first()
    # One statement reads every head: one consistent snapshot of them.
    chains = {
        str(conversation_id): [length, head_hash]
        for conversation_id, length, head_hash in ArchiveChain.objects.order_by(
            "conversation_id"
        ).values_list("conversation_id", "length", "head_hash")
    }
    audit = AuditChain.objects.filter(pk=1).values_list("length", "head_hash").first()
    document = {
        "anchor_version": ANCHOR_VERSION,
        "generator": "Parley",
        "anchored_at": _stamp(now),
        "reason": reason,
        "previous_anchor_sha256": (
            hashlib.sha256(previous.document.encode()).hexdigest() if previous else None
        ),
        "chains": chains,
        "audit": list(audit) if audit else [0, None],
    }
    text = canonical_json(document).decode()
    anchor = ChainAnchor.objects.create(
        created_at=now,
        reason=reason,
        document=text,
        signature=sign(text.encode()),
        public_key=public_key_pem(),
    )
    anchor.file_name = f"anchor-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{anchor.pk}.json"
    anchor.save(update_fields=["file_name"])
    directory = Path(settings.PARLEY_ANCHOR_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / anchor.file_name
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(canonical_json(anchor_file_content(anchor)))
    partial.replace(target)
    return anchor


def anchor_file_content(anchor: ChainAnchor) -> dict:
    """Return what an anchor file holds: the exact signed text, its signature and the key."""
    return {
        "document": anchor.document,
        "signature": anchor.signature,
        "algorithm": "Ed25519",
        "public_key": anchor.public_key,
        "public_key_sha256": key_fingerprint(anchor.public_key),
    }


@dataclass
class AnchorReport:
    anchors: int = 0
    chains: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def is_intact(self) -> bool:
        return not self.problems


def _hash_at(conversation_id: int, index: int) -> tuple[str | None, str]:
    """Return the archive's hash of link `index` of a chain now, or None with why not."""
    found = (
        ArchiveRecord.objects.filter(conversation_id=conversation_id, chain_index=index)
        .values_list("record_hash", flat=True)
        .first()
    )
    if found is not None:
        return found, ""
    gap = ChainGap.objects.filter(
        conversation_id=conversation_id, from_index__lte=index, to_index__gte=index
    ).first()
    if gap is None:
        return None, "missing"
    if gap.to_index == index:
        return gap.prev_hash_after, ""  # the purge kept the hash of the last record it removed
    return None, "purged"


def anchors_verify(paths: list[Path], *, trusted_public_key: str | None = None) -> AnchorReport:
    """Check anchor files against the archive as it is now (see the module's design)."""
    report = AnchorReport()
    trusted = trusted_public_key or public_key_pem()
    files = []
    for path in paths:
        files.extend(sorted(path.glob("anchor-*.json")) if path.is_dir() else [path])
    for path in files:
        report.anchors += 1
        try:
            content = json.loads(path.read_bytes())
            text, signature = content["document"], content["signature"]
            public_key = content.get("public_key") or trusted
            document = json.loads(text)
        except (OSError, ValueError, KeyError, TypeError) as error:
            report.problems.append(f"{path.name}: not a Parley anchor file ({error})")
            continue
        if key_fingerprint(public_key) != key_fingerprint(trusted):
            report.problems.append(f"{path.name}: signed with a key that is not the trusted one")
            continue
        if not signature_is_valid(public_pem=trusted, data=text.encode(), signature=signature):
            report.problems.append(f"{path.name}: the signature does not match its document")
            continue
        stamp = document.get("anchored_at")
        for conversation, (length, head_hash) in sorted(document.get("chains", {}).items()):
            if not length:
                continue
            report.chains += 1
            now_hash, why = _hash_at(int(conversation), length - 1)
            if why == "purged":
                report.notes.append(
                    f"{path.name}: conversation {conversation} link {length - 1} was purged by "
                    "retention inside a purged range; not comparable"
                )
            elif now_hash != head_hash:
                what = "is missing" if why == "missing" else f"has hash {now_hash[:16]}..."
                report.problems.append(
                    f"{path.name}: conversation {conversation} link {length - 1} {what}, but "
                    f"the anchor of {stamp} signed {head_hash[:16]}... (rewritten or removed)"
                )
            current = (
                ArchiveChain.objects.filter(conversation_id=int(conversation))
                .values_list("length", flat=True)
                .first()
            )
            if current is None or current < length:
                report.problems.append(
                    f"{path.name}: conversation {conversation} had {length} links at {stamp}, "
                    f"the archive now has {current or 0} (links removed)"
                )
        audit_length, audit_head = document.get("audit") or [0, None]
        if audit_length:
            now_hash = (
                AuditEntry.objects.filter(sequence=audit_length - 1)
                .values_list("record_hash", flat=True)
                .first()
            )
            if now_hash != audit_head:
                report.problems.append(
                    f"{path.name}: audit entry {audit_length - 1} does not have the hash the "
                    f"anchor of {stamp} signed (rewritten or removed)"
                )
    return report
