"""Archive records made fast for export tests and the benchmark: real chain hashes, bulk rows."""

from datetime import datetime, timedelta

from archiving.chain import canonical, link_hash
from archiving.models import ArchiveChain, ArchiveRecord


def records_append(conversation_id: int, kind: str, events: list[dict]) -> list[ArchiveRecord]:
    """Append events (dicts: event, actor_username, occurred_at, body, payload, message_id,
    message_seq) to a conversation's chain with bulk_create; return the new records."""
    chain, _ = ArchiveChain.objects.get_or_create(conversation_id=conversation_id)
    prev, index = chain.head_hash, chain.length
    rows = []
    for item in events:
        fields = {
            "conversation_id": conversation_id,
            "conversation_kind": kind,
            "is_external": False,
            "chain_index": index,
            "event": item["event"],
            "message_id": item.get("message_id"),
            "message_seq": item.get("message_seq"),
            "actor_id": None,
            "actor_username": item.get("actor_username", ""),
            "body": item.get("body", ""),
            "payload": item.get("payload", {}),
            "occurred_at": item["occurred_at"],
        }
        record_hash = link_hash(prev, canonical(**fields))
        rows.append(ArchiveRecord(**fields, prev_hash=prev, record_hash=record_hash))
        prev, index = record_hash, index + 1
    ArchiveRecord.objects.bulk_create(rows, batch_size=2000)
    chain.length, chain.head_hash = index, prev
    chain.save(update_fields=["length", "head_hash"])
    return rows


def conversation_fill(
    conversation_id: int,
    *,
    kind: str,
    members: list[str],
    start: datetime,
    count: int,
    step_seconds: float = 60.0,
    title: str = "",
    first_message_id: int = 1,
) -> list[ArchiveRecord]:
    """Create a conversation in the archive and `count` messages by its members."""
    events = [
        {
            "event": "conversation.created",
            "actor_username": members[0],
            "occurred_at": start,
            "payload": {"participants": members, "title": title},
        }
    ]
    events.extend(
        {
            "event": "message.posted",
            "actor_username": members[n % len(members)],
            "occurred_at": start + timedelta(seconds=step_seconds * (n + 1)),
            "body": f"message {n} about the quarterly numbers in {conversation_id}",
            "message_id": first_message_id + n,
            "message_seq": n + 1,
        }
        for n in range(count)
    )
    return records_append(conversation_id, kind, events)
