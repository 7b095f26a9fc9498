"""Group commit of posts: many posts, one transaction, a fixed handful of statements.

Design. The WebSocket posts of a process go through chat/committer.py, which hands every post
that arrived while the previous batch was committing to message_post_batch. The batch keeps
every promise of message_post (DESIGN.md section 3) for each post: membership and room rules,
dedupe on (sender, client_id), the next seq of its conversation, the message, its archive
record on the conversation's hash chain and the outbox rows, all in ONE transaction; nothing
leaves the process before the commit, so each post's ack still means "stored and archived".

What changes is the cost: message_post spends 17 statements on one post; the batch spends
13 on all of its posts (lock the conversations in id order and read the senders'
participations, look up earlier client_ids, insert the messages, move each conversation's
last_seq, the senders' read markers, two for the archiving policies, lock the chains, insert
the records, move the chain heads, the two outbox inserts, the feed terms), and one COMMIT.
Conversations are locked in ascending id order in one statement, so two batches (two
processes, or two writer threads) never deadlock; a conversation's seq and its chain advance
under that lock, as in message_post.

Refusals (not a member, auditorium, reused client_id, invalid body) are decided in Python
before any write and refuse that post only. Anything the set-based path does not handle
itself (a first record on a chain, a failing archive write, a database error) rolls the whole
batch back and replays it one post at a time through message_post, each in its own savepoint:
that path is the reference, and applies critical mode (refuse the post) and non-critical
capture failures (store it, record the failure) exactly.

Whatever a post writes goes in both paths: tests/chat/test_posting.py compares the rows each
writes in every chat, archiving and federation table.
"""

import logging
import uuid
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from archiving import services as archiving
from archiving.models import ArchiveEvent
from archiving.search.indexing import search_index_queue_messages
from chat import realtime
from chat.models import Conversation, Message, Participant
from chat.selectors import ACTIVE, participation_active
from chat.selectors.offline import offline_refusal
from chat.services import feeds
from chat.services.delivery import outbound_delivery_enqueue
from chat.services.messages import (
    CLIENT_ID_MAX,
    _body_validate,
    message_post,
    posting_check,
    reply_capture_payload,
    reply_to_check,
    reply_to_validate,
)
from chat.services.offline import offline_attempt_record
from directory.exceptions import Conflict, InvalidInput, NotFound, ServiceError
from directory.exceptions import sentence_gettext as _

logger = logging.getLogger(__name__)

PostResult = tuple[Message, bool] | Exception


class _ReplayOneByOne(Exception):
    pass


def message_post_batch(*, requests: list[dict[str, Any]]) -> list[PostResult]:
    """Store several posts in one transaction; return each one's (message, created) or the
    error that refused it, in the order given.

    Each request holds message_post's arguments: sender, conversation_id, body, client_id.
    A database error at commit raises (no post of the batch was stored).
    """
    if not requests:
        return []
    if connection.features.can_return_rows_from_bulk_insert:
        try:
            with transaction.atomic():
                return _batch(requests)
        except (_ReplayOneByOne, archiving.CaptureNeedsOneByOne, DatabaseError) as exc:
            logger.info("post batch replayed one by one: %s", exc)
    return _batch_one_by_one(requests)


def _batch_one_by_one(requests: list[dict[str, Any]]) -> list[PostResult]:
    """The reference path: message_post per post, each in a savepoint of one transaction."""
    results: list[PostResult] = [InvalidInput(_("not processed"))] * len(requests)
    order = sorted(range(len(requests)), key=lambda i: _conversation_key(requests[i]))
    with transaction.atomic():
        for i in order:
            try:
                results[i] = message_post(**requests[i])
            except ServiceError as exc:
                results[i] = exc
    return results


def _conversation_key(request: dict[str, Any]) -> int:
    # Lock order: conversations by ascending id; refusals (not an id) sort first.
    cid = request.get("conversation_id")
    return cid if isinstance(cid, int) else -1


def _batch(requests: list[dict[str, Any]]) -> list[PostResult]:
    results: list[PostResult | None] = [None] * len(requests)
    valid: list[int] = []
    for i, request in enumerate(requests):
        try:
            request["body"] = _body_validate(request.get("body"))
            request["reply_to"] = reply_to_validate(request.get("reply_to"))
            client_id = request.get("client_id")
            if client_id is None or client_id == "":
                request["client_id"] = uuid.uuid4().hex
            elif not isinstance(client_id, str) or len(client_id) > CLIENT_ID_MAX:
                raise InvalidInput(
                    _("client_id must be a string of at most %(CLIENT_ID_MAX)s characters.")
                    % {"CLIENT_ID_MAX": CLIENT_ID_MAX}
                )
            if request.get("file") is not None:
                raise _ReplayOneByOne("a file post")
            valid.append(i)
        except ServiceError as exc:
            results[i] = exc
    ids = sorted({c for c in (requests[i]["conversation_id"] for i in valid) if isinstance(c, int)})
    # One statement locks the conversations (in id order, so batches never deadlock) and
    # reads the senders' participations in them.
    senders = {requests[i]["sender"].pk for i in valid}
    conversations: dict[int, Conversation] = {}
    participations: dict[tuple[int, int], Participant] = {}
    for p in (
        Participant.objects.select_related("conversation")
        .select_for_update(of=("conversation",))
        .filter(ACTIVE, conversation_id__in=ids, person_id__in=senders)
        # The offline IM switch rides on this statement (chat/selectors/offline.py).
        .annotate(
            is_offline_refused=offline_refusal(
                conversation_ref=OuterRef("conversation_id"),
                sender_ref=OuterRef("person_id"),
                kind_field="conversation__kind",
            )
        )
        .order_by("conversation_id", "pk")
    ):
        # One instance per conversation: its seq advances post by post below.
        p.conversation = conversations.setdefault(p.conversation_id, p.conversation)
        participations[(p.conversation_id, p.person_id)] = p
    accepted: list[int] = []
    for i in valid:
        request = requests[i]
        cid, sender = request["conversation_id"], request["sender"]
        conversation = conversations.get(cid) if isinstance(cid, int) else None
        participation = participations.get((cid, sender.pk)) if conversation else None
        # Walls only exist on rooms in a category: check those one by one (rare).
        if (
            participation is not None
            and conversation.category_id is not None
            and not participation_active(person_id=sender.pk, conversation_id=cid).exists()
        ):
            participation = None
        try:
            if participation is None:
                raise NotFound(
                    _("Conversation %(cid)s does not exist or you are not in it.") % {"cid": cid},
                    code="conversation_not_found",
                )
            posting_check(conversation=conversation, participation=participation)
        except ServiceError as exc:
            results[i] = exc
            continue
        accepted.append(i)
    if accepted:
        _store(requests, accepted, conversations, participations, results)
    return results  # type: ignore[return-value]


def _capture_events(messages: list[Message], touched: dict, now) -> list:
    """The archive events of the posts, in message_post's order: each post's message.posted,
    then its message.replied when it answers another."""
    events = []
    for m in messages:
        conversation = touched[m.conversation_id]

        def event(kind: str, *, body: str = "", payload=None, m=m, conversation=conversation):
            return archiving.CaptureEvent(
                conversation_id=m.conversation_id,
                conversation_kind=conversation.kind,
                is_external=conversation.is_external,
                event=kind,
                actor=m.sender,
                occurred_at=now,
                body=body,
                message_id=m.pk,
                message_seq=m.seq,
                payload=payload,
            )

        events.append(event(ArchiveEvent.MESSAGE_POSTED, body=m.body))
        if m.reply_to is not None:
            events.append(
                event(
                    ArchiveEvent.MESSAGE_REPLIED,
                    payload=reply_capture_payload(original=m.reply_to),
                )
            )
    return events


def _store(requests, accepted, conversations, participations, results) -> None:
    # Dedupe on (sender, client_id): earlier posts, then repeats inside this batch.
    wanted = {(requests[i]["sender"].pk, requests[i]["client_id"]) for i in accepted}
    existing = {
        (m.sender_id, m.client_id): m
        for m in Message.objects.filter(
            sender_id__in={s for s, _ in wanted}, client_id__in={c for _, c in wanted}
        )
        if (m.sender_id, m.client_id) in wanted
    }
    # The messages answered, one statement for the batch (none when no post is a reply).
    reply_ids = {requests[i]["reply_to"] for i in accepted if requests[i]["reply_to"]}
    originals = Message.objects.select_related("sender").in_bulk(reply_ids) if reply_ids else {}
    now = timezone.now()
    new: dict[tuple[int, str], Message] = {}
    repeats: list[int] = []
    for i in sorted(accepted, key=lambda i: requests[i]["conversation_id"]):
        request = requests[i]
        sender, key = request["sender"], (request["sender"].pk, request["client_id"])
        earlier = existing.get(key) or new.get(key)
        if earlier is not None:
            repeats.append(i)
            continue
        original = None
        if request["reply_to"] is not None:
            try:
                original = reply_to_check(
                    original=originals.get(request["reply_to"]),
                    reply_to=request["reply_to"],
                    participation=participations[(request["conversation_id"], sender.pk)],
                )
            except ServiceError as exc:
                results[i] = exc
                continue
        conversation = conversations[request["conversation_id"]]
        if (
            participations[(conversation.pk, sender.pk)].is_offline_refused
            and not sender.is_external
        ):
            # Rare: the archived attempt goes through capture() (a few statements of its own).
            results[i] = offline_attempt_record(
                conversation=conversation,
                sender=sender,
                body=request["body"],
                client_id=request["client_id"],
            )
            continue
        conversation.last_seq += 1
        conversation.last_message_at = now
        message = Message(
            conversation=conversation,
            seq=conversation.last_seq,
            sender=sender,
            body=request["body"],
            client_id=request["client_id"],
            created_at=now,
            reply_to=original,
        )
        new[key] = message
        results[i] = (message, True)
        participations[(conversation.pk, sender.pk)].last_read_seq = conversation.last_seq
    messages = list(new.values())
    if messages:
        Message.objects.bulk_create(messages)
        touched = {m.conversation_id: conversations[m.conversation_id] for m in messages}
        # The counters move to the rows just inserted, one UPDATE each whatever the batch
        # holds: bulk_update's CASE per row cost more CPU than the rest of the batch together.
        newest = Message.objects.order_by("-seq").values("seq")
        Conversation.objects.filter(pk__in=list(touched)).update(
            last_seq=Subquery(newest.filter(conversation_id=OuterRef("pk"))[:1]),
            last_message_at=now,
        )
        readers = {participations[(m.conversation_id, m.sender_id)].pk for m in messages}
        Participant.objects.filter(pk__in=readers).update(
            last_read_seq=Subquery(
                newest.filter(
                    conversation_id=OuterRef("conversation_id"), sender_id=OuterRef("person_id")
                )[:1]
            )
        )
        archiving.capture_many(
            events=_capture_events(messages, touched, now),
            members=Participant.objects.filter(ACTIVE, conversation_id__in=list(touched)).values(
                "conversation_id", "person_id"
            ),
        )
        search_index_queue_messages(message_ids=[m.pk for m in messages])  # history search
        for m in messages:
            if touched[m.conversation_id].is_external:
                outbound_delivery_enqueue(message=m, conversation=touched[m.conversation_id])
        feeds.message_index_many(messages=messages)
        for m in messages:
            transaction.on_commit(lambda m=m: realtime.message_new(m), robust=True)
    for i in repeats:
        request = requests[i]
        key = (request["sender"].pk, request["client_id"])
        earlier = existing.get(key) or new[key]
        if earlier.conversation_id != request["conversation_id"]:
            results[i] = Conflict(
                _(
                    "This client_id was already used for a message in another "
                    "conversation; use a new client_id for each message."
                ),
                code="client_id_reused",
            )
            continue
        earlier.sender = request["sender"]
        results[i] = (earlier, False)
