"""The canonical form of an archive record and its chain hash.

record_hash = SHA-256(prev_hash + canonical JSON of the record's content). The canonical JSON
has sorted keys, no insignificant whitespace, UTF-8 text and UTC timestamps with microseconds,
so the same record always hashes the same on any machine and database.
"""

import hashlib
import json
from datetime import UTC, datetime


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    *,
    conversation_id: int,
    conversation_kind: str,
    is_external: bool,
    chain_index: int,
    event: str,
    message_id: int | None,
    message_seq: int | None,
    actor_id: int | None,
    actor_username: str,
    body: str,
    payload: dict,
    occurred_at: datetime,
) -> str:
    """Return the canonical JSON text of a record's content."""
    return json.dumps(
        {
            "actor_id": actor_id,
            "actor_username": actor_username,
            "body": body,
            "chain_index": chain_index,
            "conversation_id": conversation_id,
            "conversation_kind": conversation_kind,
            "event": event,
            "is_external": is_external,
            "message_id": message_id,
            "message_seq": message_seq,
            "occurred_at": _timestamp(occurred_at),
            "payload": payload,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def link_hash(prev_hash: str, canonical_text: str) -> str:
    """Return the hash of a record chained onto prev_hash."""
    return hashlib.sha256((prev_hash + canonical_text).encode()).hexdigest()


def record_canonical(record) -> str:
    """Return the canonical text of a stored ArchiveRecord."""
    return canonical(
        conversation_id=record.conversation_id,
        conversation_kind=record.conversation_kind,
        is_external=record.is_external,
        chain_index=record.chain_index,
        event=record.event,
        message_id=record.message_id,
        message_seq=record.message_seq,
        actor_id=record.actor_id,
        actor_username=record.actor_username,
        body=record.body,
        payload=record.payload,
        occurred_at=record.occurred_at,
    )


def audit_canonical(
    *,
    sequence: int,
    actor_id: int | None,
    actor_username: str,
    action: str,
    target: str,
    parameters: dict,
    result_count: int | None,
    occurred_at: datetime,
) -> str:
    """Return the canonical JSON text of an audit entry's content."""
    return json.dumps(
        {
            "action": action,
            "actor_id": actor_id,
            "actor_username": actor_username,
            "occurred_at": _timestamp(occurred_at),
            "parameters": parameters,
            "result_count": result_count,
            "sequence": sequence,
            "target": target,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def audit_entry_canonical(entry) -> str:
    """Return the canonical text of a stored AuditEntry."""
    return audit_canonical(
        sequence=entry.sequence,
        actor_id=entry.actor_id,
        actor_username=entry.actor_username,
        action=entry.action,
        target=entry.target,
        parameters=entry.parameters,
        result_count=entry.result_count,
        occurred_at=entry.occurred_at,
    )
