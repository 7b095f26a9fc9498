"""JSON shapes of supervision policies and review items."""

from archiving.events import MessageTexts, Names, archived_text_lookup, event_describe, event_line
from archiving.models import ArchiveRecord
from archiving.naming import conversation_names, people_displays
from chat.models import Message
from chat.serializers import message_to_dict
from directory.serializers import person_summary, timestamp
from supervision.models import ReviewItem, SupervisionPolicy


def policy_to_dict(policy: SupervisionPolicy) -> dict:
    """Return the public form of a policy (people and reviewers by username)."""
    data = {
        "id": policy.pk,
        "name": policy.name,
        "people": sorted(p.username for p in policy.people.all()),
        "departments": sorted(d.name for d in policy.departments.all()),
        "groups": sorted(g.name for g in policy.groups.all()),
        "reviewers": sorted(p.username for p in policy.reviewers.all()),
        "lexicon": list(policy.lexicon),
        "sample_percent": float(policy.sample_percent),
        "scope": policy.scope,
        "start": timestamp(policy.start_at),
        "end": timestamp(policy.end_at),
        "created_at": timestamp(policy.created_at),
    }
    if hasattr(policy, "open_count"):
        data["open_items"] = policy.open_count
        data["claimed_items"] = policy.claimed_count
    return data


def messages_for(items: list[ReviewItem]) -> dict[int, Message]:
    """Return the chat messages of the items, by id, in one query."""
    ids = [item.message_id for item in items if item.message_id is not None]
    return Message.objects.select_related("sender", "file").in_bulk(ids)


def _message(item: ReviewItem, message: Message | None) -> dict:
    if message is not None:
        return message_to_dict(message)
    # The chat row is gone (never, today; kept safe): the captured record says what was sent.
    return {
        "id": item.message_id,
        "conversation": item.conversation_id,
        "seq": None,
        "sender": person_summary(item.sender),
        "body": None,
        "created_at": timestamp(item.occurred_at),
        "edited_at": None,
        "deleted": True,
        "client_id": None,
    }


def item_to_dict(item: ReviewItem, *, message: Message | None) -> dict:
    """Return the public form of a review item with its message as the contract writes it.

    `highlight` is the text as it was captured (escaped HTML, matched words in <mark>); the
    message is as it stands now (edited or deleted since, it says so).
    """
    return {
        "id": item.pk,
        "policy": item.policy_id,
        "policy_name": item.policy.name,
        "status": item.status,
        "reason": item.reason,
        "matched": list(item.matched),
        "highlight": item.highlight,
        "record": item.record_id,
        "message": _message(item, message),
        "decision": item.decision or None,
        "comment": item.comment or None,
        "reviewer": item.reviewer.username if item.reviewer_id else None,
        "case": item.case_id,
        "created_at": timestamp(item.created_at),
        "resolved_at": timestamp(item.resolved_at),
    }


def context_to_dict(item: ReviewItem, records: list[ArchiveRecord]) -> dict:
    """Return the archived records around an item, each in the archive's own words."""
    names = Names(people_displays({r.actor_username for r in records if r.actor_username}))
    texts = MessageTexts(archived_text_lookup)
    lines = {}
    for record in records:  # chain order: edits and removals quote the text before them
        lines[record.pk] = event_line(event_describe(record, name=names, texts=texts), name=names)
        texts.note(record)
    return {
        "conversation": item.conversation_id,
        "conversation_name": conversation_names([item.conversation_id]).get(
            item.conversation_id, ""
        ),
        "records": [
            {
                "record": record.pk,
                "event": record.event,
                "seq": record.message_seq,
                "sender": record.actor_username,
                "description": lines[record.pk],
                "created_at": timestamp(record.occurred_at),
                "is_item": record.pk == item.record_id,
            }
            for record in records
        ],
    }
