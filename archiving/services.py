"""Capture: append conversation events to the archive, in the caller's transaction.

Design. chat calls capture() inside the transaction that stores the message, after it has
locked the conversation row; the chain head is read and advanced under that same lock, so
each conversation's chain is strictly ordered and there is no global bottleneck. Whether to
archive follows the policies of everyone in the conversation: if anyone's policy archives
this kind (internal / external), the event is archived. If archiving is required and the
write fails, a critical policy (Lync's BlockOnArchiveFailure) raises ArchiveUnavailable and the
caller's whole transaction rolls back: nothing is stored half-way. A non-critical policy lets
the conversation go on and leaves a CaptureFailure row for the administrators.

Search. Each record also gets an ArchiveIndexOutbox row in the same transaction (drained by
Celery after commit, archiving.search.indexing), so a committed record cannot miss the index.
Follow-ups. Apps that judge captured records after the fact (supervision review) are named in
PARLEY_CAPTURE_FOLLOW_UP_TASKS; each gets one Celery task per captured batch, queued after
commit with the record ids (capture_follow_ups_queue). No query is added to the write path,
and archiving names those tasks only through the setting, so it still depends on nothing above
it. A task lost before it reached the broker is made up by that app's own sweep.
Membership changes (and a conversation's first record) update ArchiveMembership under the
same lock, so "who was in the conversation at this record" is exact for the search scope.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.module_loading import import_string

from archiving.chain import canonical, link_hash
from archiving.exceptions import ArchiveUnavailable
from archiving.models import (
    GENESIS_HASH,
    ArchiveChain,
    ArchiveEvent,
    ArchiveParticipant,
    ArchiveRecord,
    ArchivingPolicy,
    ArchivingPolicyAssignment,
    CaptureFailure,
)
from archiving.search.indexing import membership_track, search_index_queue
from directory.exceptions import sentence_gettext as _
from directory.models import Person

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchivingDecision:
    is_required: bool
    is_critical: bool


def policy_global_get() -> ArchivingPolicy:
    """Return the global policy, creating the default (archive everything) if missing."""
    policy, _created = ArchivingPolicy.objects.get_or_create(
        is_global=True, defaults={"name": "Global"}
    )
    return policy


def _decision(
    *,
    global_policy: ArchivingPolicy,
    overrides: list[ArchivingPolicy],
    has_unassigned: bool,
    is_external: bool,
) -> ArchivingDecision:
    """The rule: anyone's override that archives, else the global policy for the uncovered."""
    archiving = [p for p in overrides if p.archives(is_external=is_external)]
    # The global policy applies unless every participant has an override.
    is_uncovered = not overrides or has_unassigned
    if global_policy.archives(is_external=is_external) and not archiving and is_uncovered:
        archiving.append(global_policy)
    return ArchivingDecision(
        is_required=bool(archiving), is_critical=any(p.is_critical for p in archiving)
    )


def archiving_decide(
    *, participant_ids: QuerySet | Iterable[int], is_external: bool
) -> ArchivingDecision:
    """Return whether anyone's policy archives this conversation, and whether critically."""
    assigned = ArchivingPolicyAssignment.objects.filter(
        policy=OuterRef("pk"), person_id__in=participant_ids
    )
    policies = list(
        ArchivingPolicy.objects.annotate(is_assigned=Exists(assigned)).filter(
            Q(is_global=True) | Q(is_assigned=True)
        )
    )
    global_policy = next((p for p in policies if p.is_global), None) or policy_global_get()
    overrides = [p for p in policies if p.is_assigned]
    has_unassigned = bool(overrides) and (
        Person.objects.filter(pk__in=participant_ids)
        .exclude(pk__in=ArchivingPolicyAssignment.objects.values("person_id"))
        .exists()
        if global_policy.archives(is_external=is_external)
        and not any(p.archives(is_external=is_external) for p in overrides)
        else False
    )
    return _decision(
        global_policy=global_policy,
        overrides=overrides,
        has_unassigned=has_unassigned,
        is_external=is_external,
    )


def archiving_decide_many(
    *, members: QuerySet, is_external: dict[int, bool]
) -> dict[int, ArchivingDecision]:
    """Return the decision for each of several conversations in two queries.

    members: a values() queryset of (conversation_id, person_id) rows of the people in them now.
    The same rule as archiving_decide, answered for a whole batch of posts at once.
    """
    policies = {p.pk: p for p in ArchivingPolicy.objects.all()}
    global_policy = next((p for p in policies.values() if p.is_global), None)
    if global_policy is None:
        global_policy = policy_global_get()
    assigned = ArchivingPolicyAssignment.objects.filter(person_id=OuterRef("person_id"))
    rows = (
        members.annotate(assigned_policy=Subquery(assigned.values("policy_id")[:1]))
        .values_list("conversation_id", "assigned_policy")
        .distinct()
    )
    policy_ids: dict[int, set[int | None]] = {cid: set() for cid in is_external}
    for conversation_id, policy_id in rows:
        policy_ids.setdefault(conversation_id, set()).add(policy_id)
    return {
        cid: _decision(
            global_policy=global_policy,
            overrides=[policies[pid] for pid in policy_ids[cid] if pid is not None],
            has_unassigned=None in policy_ids[cid],
            is_external=is_external[cid],
        )
        for cid in is_external
    }


def capture(
    *,
    conversation_id: int,
    conversation_kind: str,
    is_external: bool,
    participant_ids: QuerySet | Iterable[int],
    event: str,
    actor: Person | None,
    occurred_at: datetime,
    body: str = "",
    message_id: int | None = None,
    message_seq: int | None = None,
    payload: dict | None = None,
) -> ArchiveRecord | None:
    """Append an event to its conversation's chain if any participant's policy archives it.

    Must run inside the caller's transaction, after the caller locked the conversation.
    """
    decision = archiving_decide(participant_ids=participant_ids, is_external=is_external)
    if not decision.is_required:
        return None
    try:
        with transaction.atomic():
            return _append(
                participant_ids=participant_ids,
                conversation_id=conversation_id,
                conversation_kind=conversation_kind,
                is_external=is_external,
                event=event,
                actor=actor,
                occurred_at=occurred_at,
                body=body,
                message_id=message_id,
                message_seq=message_seq,
                payload=payload or {},
            )
    except DatabaseError as exc:
        if decision.is_critical:
            logger.error("archive capture failed in critical mode: %s", exc)
            raise ArchiveUnavailable(
                _(
                    "The compliance archive is unavailable and your organisation "
                    "requires every message to be archived, so this one was not sent. "
                    "Try again shortly."
                )
            ) from exc
        logger.error("archive capture failed (non-critical, recorded): %s", exc)
        CaptureFailure.objects.create(
            conversation_id=conversation_id, event=event, message_id=message_id, error=str(exc)
        )
        return None


def _append(
    *,
    participant_ids: QuerySet | Iterable[int],
    conversation_id: int,
    conversation_kind: str,
    is_external: bool,
    event: str,
    actor: Person | None,
    occurred_at: datetime,
    body: str,
    message_id: int | None,
    message_seq: int | None,
    payload: dict,
) -> ArchiveRecord:
    chain = ArchiveChain.objects.select_for_update().filter(pk=conversation_id).first()
    if chain is None:
        chain = ArchiveChain(conversation_id=conversation_id, length=0, head_hash=GENESIS_HASH)
    actor_username = actor.username if actor is not None else ""
    fields = {
        "conversation_id": conversation_id,
        "conversation_kind": conversation_kind,
        "is_external": is_external,
        "chain_index": chain.length,
        "event": event,
        "message_id": message_id,
        "message_seq": message_seq,
        "actor_id": actor.pk if actor is not None else None,
        "actor_username": actor_username,
        "body": body,
        "payload": payload,
        "occurred_at": occurred_at,
    }
    record_hash = link_hash(chain.head_hash, canonical(**fields))
    record = ArchiveRecord.objects.create(
        **fields, prev_hash=chain.head_hash, record_hash=record_hash
    )
    if chain.length == 0 or event in _MEMBERSHIP_EVENTS:
        # Who took part outlives the records that show it (retention): holds on custodians
        # and per-person retention resolve through these rows.
        person_ids = set(Person.objects.filter(pk__in=participant_ids).values_list("pk", flat=True))
        if actor is not None:
            person_ids.add(actor.pk)
        ArchiveParticipant.objects.bulk_create(
            [ArchiveParticipant(conversation_id=conversation_id, person_id=p) for p in person_ids],
            ignore_conflicts=True,
        )
    chain.length += 1
    chain.head_hash = record_hash
    chain.save()
    membership_track(record=record, participant_ids=participant_ids)
    search_index_queue(record_ids=[record.pk])
    capture_follow_ups_queue(record_ids=[record.pk])
    return record


_MEMBERSHIP_EVENTS = {ArchiveEvent.CONVERSATION_CREATED, ArchiveEvent.PARTICIPANT_JOINED}


def capture_follow_ups_queue(*, record_ids: list[int]) -> None:
    """After commit, queue each follow-up task once for these records (one task per batch)."""
    if record_ids and settings.PARLEY_CAPTURE_FOLLOW_UP_TASKS:
        ids = list(record_ids)

        # A function, not a functools.partial: a robust on_commit callback that fails (the
        # broker is down; the supervision sweep catches up) is logged by its __qualname__.
        def follow_ups_send() -> None:
            for task_path in settings.PARLEY_CAPTURE_FOLLOW_UP_TASKS:
                import_string(task_path).delay(ids)

        transaction.on_commit(follow_ups_send, robust=True)


@dataclass(frozen=True)
class CaptureEvent:
    """One event for capture_many: what capture() takes, less the participants."""

    conversation_id: int
    conversation_kind: str
    is_external: bool
    event: str
    actor: Person | None
    occurred_at: datetime
    body: str = ""
    message_id: int | None = None
    message_seq: int | None = None
    payload: dict | None = None


class CaptureNeedsOneByOne(Exception):
    """capture_many met a case it leaves to capture(): a chain's first record, or a
    membership event (both also write who took part)."""


def capture_many(*, events: list[CaptureEvent], members: QuerySet) -> list[ArchiveRecord | None]:
    """Append events of several conversations, each already locked by the caller, in a fixed
    handful of statements whatever their number; return each event's record (None: not
    archived).

    The same records, hashes and outbox rows as capture() called once per event in this order.
    It does not keep capture()'s failure handling: on any DatabaseError (or
    CaptureNeedsOneByOne) the caller rolls its transaction back and goes one event at a time
    through capture(), which applies critical mode and records non-critical failures.
    """
    if any(e.event in _MEMBERSHIP_EVENTS or e.event.startswith("participant.") for e in events):
        raise CaptureNeedsOneByOne("membership events go through capture()")
    decisions = archiving_decide_many(
        members=members, is_external={e.conversation_id: e.is_external for e in events}
    )
    archived = [e for e in events if decisions[e.conversation_id].is_required]
    if not archived:
        return [None] * len(events)
    ids = sorted({e.conversation_id for e in archived})
    chains = {
        c.pk: c for c in ArchiveChain.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    }
    if len(chains) != len(ids) or any(c.length == 0 for c in chains.values()):
        raise CaptureNeedsOneByOne("a chain starts here")
    records = []
    for e in archived:
        chain = chains[e.conversation_id]
        fields = {
            "conversation_id": e.conversation_id,
            "conversation_kind": e.conversation_kind,
            "is_external": e.is_external,
            "chain_index": chain.length,
            "event": e.event,
            "message_id": e.message_id,
            "message_seq": e.message_seq,
            "actor_id": e.actor.pk if e.actor is not None else None,
            "actor_username": e.actor.username if e.actor is not None else "",
            "body": e.body,
            "payload": e.payload or {},
            "occurred_at": e.occurred_at,
        }
        record_hash = link_hash(chain.head_hash, canonical(**fields))
        records.append(ArchiveRecord(**fields, prev_hash=chain.head_hash, record_hash=record_hash))
        chain.length += 1
        chain.head_hash = record_hash
    ArchiveRecord.objects.bulk_create(records)
    # The heads move to the records just inserted, in one UPDATE whatever the batch holds
    # (bulk_update's CASE per row cost more CPU than the inserts).
    newest = ArchiveRecord.objects.filter(conversation_id=OuterRef("pk")).order_by("-chain_index")
    ArchiveChain.objects.filter(pk__in=ids).update(
        length=Subquery(newest.values("chain_index")[:1]) + 1,
        head_hash=Subquery(newest.values("record_hash")[:1]),
        updated_at=timezone.now(),
    )
    search_index_queue(record_ids=[r.pk for r in records])
    capture_follow_ups_queue(record_ids=[r.pk for r in records])
    by_event = dict(zip(map(id, archived), records, strict=True))
    return [by_event.get(id(e)) for e in events]
