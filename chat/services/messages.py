"""The only code that changes conversations and messages (the life of a message).

After-commit hooks are `robust`: once the transaction has committed the message is stored
and archived, so a failing broadcast or index hook is logged and never turns the ack into
an error.

message_post does everything in one transaction: lock the conversation row, check
membership and the room's rules, dedupe on (sender, client_id), take the next seq, insert the
message, capture it in the archive, queue it for indexing. Only after commit does anything
leave the process: the ack (by the caller), the broadcast and the indexing task. So an ack
always means "stored and archived", and a broadcast never announces a rolled-back message.
"""

import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef
from django.utils import timezone

from archiving import services as archiving
from archiving.models import ArchiveEvent
from archiving.search.indexing import search_index_queue_messages
from chat import realtime
from chat.models import Conversation, File, Message, Participant
from chat.selectors import (
    active_participants,
    conversation_mention_count,
    participant_person_ids,
    participation_active,
    participation_get,
)
from chat.selectors.offline import offline_refusal
from chat.services import barriers, delivery, feeds, mentions
from chat.services.offline import RecipientOffline, offline_attempt_record
from directory.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import Person
from directory.selectors import person_get_active

CLIENT_ID_MAX = 64


def _people_by_username(usernames: list[str], *, exclude: Person) -> list[Person]:
    if not isinstance(usernames, list) or not all(isinstance(u, str) for u in usernames):
        raise InvalidInput(_("participants must be a list of usernames."))
    wanted = list(dict.fromkeys(u for u in usernames if u != exclude.username))
    people = {p.username: p for p in Person.objects.filter(username__in=wanted, is_active=True)}
    missing = [u for u in wanted if u not in people]
    if missing:
        raise NotFound(
            _("No active person named %(missing)s.") % {"missing": ", ".join(missing)},
            code="person_not_found",
        )
    return [people[u] for u in wanted]


def _capture(
    conversation: Conversation,
    *,
    event: str,
    actor: Person | None,
    occurred_at,
    message: Message | None = None,
    body: str = "",
    payload: dict | None = None,
) -> None:
    archiving.capture(
        conversation_id=conversation.pk,
        conversation_kind=conversation.kind,
        is_external=conversation.is_external,
        participant_ids=participant_person_ids(conversation_id=conversation.pk),
        event=event,
        actor=actor,
        occurred_at=occurred_at,
        body=body,
        message_id=message.pk if message else None,
        message_seq=message.seq if message else None,
        payload=payload,
    )


def _conversation_start(
    *, kind: str, creator: Person, members: list[Person], title: str = "", **fields
) -> Conversation:
    barriers.barrier_check(people=members, kind=kind)  # information barriers (IM kinds only)
    conversation = Conversation.objects.create(
        kind=kind,
        title=title,
        created_by=creator,
        is_external=any(p.is_external for p in members),
        **fields,
    )
    Participant.objects.bulk_create(
        Participant(
            conversation=conversation,
            person=person,
            role=Participant.Role.MANAGER if kind == "room" and person == creator else "member",
        )
        for person in members
    )
    _capture(
        conversation,
        event=ArchiveEvent.CONVERSATION_CREATED,
        actor=creator,
        occurred_at=conversation.created_at,
        payload={"participants": [p.username for p in members], "title": title},
    )
    member_ids = [p.pk for p in members]
    transaction.on_commit(
        lambda: realtime.conversation_joined(
            conversation_id=conversation.pk, person_ids=member_ids, is_new_conversation=True
        ),
        robust=True,
    )
    return conversation


@transaction.atomic
def conversation_direct_get_or_create(
    *, person: Person, other: Person
) -> tuple[Conversation, bool]:
    """Return the one direct conversation of two people, creating it the first time."""
    if other.pk == person.pk:
        raise InvalidInput(_("A direct conversation needs someone other than yourself."))
    low, high = sorted((person.pk, other.pk))
    key = f"{low}:{high}"
    existing = Conversation.objects.filter(direct_key=key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            conversation = _conversation_start(
                kind=Conversation.Kind.DIRECT,
                creator=person,
                members=[person, other],
                direct_key=key,
            )
    except IntegrityError:  # created by a concurrent request between our read and insert
        return Conversation.objects.get(direct_key=key), False
    return conversation, True


@transaction.atomic
def conversation_create(
    *, creator: Person, usernames: list[str], title: str = ""
) -> tuple[Conversation, bool]:
    """Return the direct conversation with one other person, or a new group for several."""
    others = _people_by_username(usernames, exclude=creator)
    if not others:
        raise InvalidInput(_("participants must name at least one other person."))
    if len(others) == 1 and not title:
        return conversation_direct_get_or_create(person=creator, other=others[0])
    if len(title) > 200:
        raise InvalidInput(_("title is limited to 200 characters."))
    conversation = _conversation_start(
        kind=Conversation.Kind.GROUP, creator=creator, members=[creator, *others], title=title
    )
    return conversation, True


@transaction.atomic
def participant_add(
    *, actor: Person, conversation_id: int, username: str
) -> tuple[Conversation, bool]:
    """Add a person. A direct conversation escalates to a NEW group of three (returned, True);
    the newcomer never sees the direct history."""
    participation = participation_get(person_id=actor.pk, conversation_id=conversation_id)
    conversation = participation.conversation
    newcomer = person_get_active(username=username) if isinstance(username, str) else None
    if newcomer is None:
        raise NotFound(
            _("No active person named %(username)s.") % {"username": username},
            code="person_not_found",
        )
    if conversation.kind == Conversation.Kind.DIRECT:
        members = [p.person for p in active_participants(conversation.pk).select_related("person")]
        if newcomer.pk in {m.pk for m in members}:
            raise Conflict(
                _("%(username)s is already in this conversation.") % {"username": username},
                code="already_member",
            )
        group = _conversation_start(
            kind=Conversation.Kind.GROUP, creator=actor, members=[*members, newcomer]
        )
        return group, True
    if conversation.kind == Conversation.Kind.ROOM:
        from chat.services.rooms import room_member_add  # rooms build on this module

        room_member_add(actor=actor, room_id=conversation.pk, username=username)
        return Conversation.objects.get(pk=conversation.pk), False
    locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if active_participants(locked.pk).filter(person=newcomer).exists():
        raise Conflict(
            _("%(username)s is already in this conversation.") % {"username": username},
            code="already_member",
        )
    members = [p.person for p in active_participants(locked.pk).select_related("person")]
    barriers.barrier_check(people=[*members, newcomer], kind=locked.kind)
    # A group starts the newcomer at the present (rooms were handled above).
    _participant_join(
        locked,
        person=newcomer,
        actor=actor,
        visible_after_seq=locked.last_seq,
        payload={"person": newcomer.username},
    )
    return locked, False


def _participant_join(
    conversation: Conversation,
    *,
    person: Person,
    actor: Person,
    visible_after_seq: int,
    payload: dict,
    role: str = Participant.Role.MEMBER,
) -> Participant:
    """Add a person to a locked existing conversation: insert, mark it external if they are,
    archive the join, and attach and announce them after commit."""
    participant = Participant.objects.create(
        conversation=conversation, person=person, role=role, visible_after_seq=visible_after_seq
    )
    if person.is_external and not conversation.is_external:
        conversation.is_external = True
        conversation.save(update_fields=["is_external"])
    _capture(
        conversation,
        event=ArchiveEvent.PARTICIPANT_JOINED,
        actor=actor,
        occurred_at=timezone.now(),
        payload=payload,
    )
    conversation_id, person_id = conversation.pk, person.pk
    transaction.on_commit(
        lambda: realtime.conversation_joined(
            conversation_id=conversation_id, person_ids=[person_id], is_new_conversation=False
        ),
        robust=True,
    )
    return participant


@transaction.atomic
def participant_leave(*, person: Person, conversation_id: int) -> None:
    """End the person's participation in a group or room (a direct conversation cannot be left)."""
    participation = participation_get(person_id=person.pk, conversation_id=conversation_id)
    conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
    if conversation.kind == Conversation.Kind.DIRECT:
        raise InvalidInput(_("A direct conversation cannot be left."), code="cannot_leave_direct")
    # Captured before leaving so the leaver's own policy still applies to the record.
    _capture(
        conversation,
        event=ArchiveEvent.PARTICIPANT_LEFT,
        actor=person,
        occurred_at=timezone.now(),
        payload={"person": person.username},
    )
    participation.left_at = timezone.now()
    participation.save(update_fields=["left_at"])
    person_id = person.pk
    transaction.on_commit(
        lambda: realtime.conversation_left(conversation_id=conversation_id, person_id=person_id),
        robust=True,
    )


def _body_validate(body) -> str:
    if not isinstance(body, str):
        raise InvalidInput(_("body must be a string."))
    if not body.strip():
        raise InvalidInput(_("body is empty; type something to send."), code="empty_message")
    size = len(body.encode("utf-8"))
    if size > settings.PARLEY_MESSAGE_MAX_BYTES:
        raise InvalidInput(
            _(
                "The message is %(size)s bytes; the limit is "
                "%(PARLEY_MESSAGE_MAX_BYTES)s bytes. Split it or send it as a "
                "file."
            )
            % {"size": size, "PARLEY_MESSAGE_MAX_BYTES": settings.PARLEY_MESSAGE_MAX_BYTES},
            code="message_too_large",
        )
    return body


def reply_to_validate(reply_to) -> int | None:
    """Return the id a post answers (None: not a reply), or refuse what is not an id."""
    if reply_to is None:
        return None
    if isinstance(reply_to, bool) or not isinstance(reply_to, int) or reply_to < 1:
        raise InvalidInput(
            _("reply_to must be the id (a positive integer) of the message you answer, or null."),
            code="invalid_reply_to",
        )
    return reply_to


def reply_to_check(
    *, original: Message | None, reply_to: int, participation: Participant
) -> Message:
    """Return the message a post answers: one of the same conversation that the sender can
    read and that is not deleted. Unknown ids and other conversations' messages get the same
    refusal, so a reply learns nothing about messages the sender cannot read."""
    if (
        original is None
        or original.conversation_id != participation.conversation_id
        or original.seq <= participation.visible_after_seq
    ):
        raise InvalidInput(
            _(
                "reply_to: message %(reply_to)s is not in this conversation; "
                "reply to a message of the conversation you post in."
            )
            % {"reply_to": reply_to},
            code="reply_to_not_found",
        )
    if original.deleted_at is not None:
        raise Conflict(
            _("reply_to: message %(reply_to)s was deleted; it cannot be answered.")
            % {"reply_to": reply_to},
            code="reply_to_deleted",
        )
    return original


def reply_capture_payload(*, original: Message) -> dict:
    """Return the archive payload of a reply (message.replied), the same in both post paths."""
    return {"reply_to_seq": original.seq, "reply_to_sender": original.sender.username}


def message_post(
    *,
    sender: Person,
    conversation_id: int,
    body: str,
    client_id: str | None = None,
    file: File | None = None,
    reply_to: int | None = None,
) -> tuple[Message, bool]:
    """Store a message and its archive record; broadcast after commit.

    Returns (message, created); a retry with the same client_id returns the stored message.
    Raises RecipientOffline, after committing the archived attempt, when the offline IM
    switch refuses it (chat/services/offline.py).
    """
    result = _message_post(
        sender=sender,
        conversation_id=conversation_id,
        body=body,
        client_id=client_id,
        file=file,
        reply_to=reply_to,
    )
    if isinstance(result, RecipientOffline):
        raise result
    return result


@transaction.atomic
def _message_post(
    *,
    sender: Person,
    conversation_id: int,
    body: str,
    client_id: str | None,
    file: File | None,
    reply_to: int | None,
) -> tuple[Message, bool] | RecipientOffline:
    body = _body_validate(body)
    reply_to = reply_to_validate(reply_to)
    if client_id is None or client_id == "":
        client_id = uuid.uuid4().hex
    if not isinstance(client_id, str) or len(client_id) > CLIENT_ID_MAX:
        raise InvalidInput(
            _("client_id must be a string of at most %(CLIENT_ID_MAX)s characters.")
            % {"CLIENT_ID_MAX": CLIENT_ID_MAX}
        )
    conversation = (
        Conversation.objects.select_for_update()
        .filter(pk=conversation_id)
        # The offline IM switch rides on the lock statement: no query of its own.
        .annotate(
            is_offline_refused=offline_refusal(
                conversation_ref=OuterRef("pk"), sender_ref=sender.pk, kind_field="kind"
            )
        )
        .first()
        if isinstance(conversation_id, int)
        else None
    )
    participation = (
        participation_active(person_id=sender.pk, conversation_id=conversation_id).first()
        if conversation is not None
        else None
    )
    if participation is None:
        raise NotFound(
            _("Conversation %(conversation_id)s does not exist or you are not in it.")
            % {"conversation_id": conversation_id},
            code="conversation_not_found",
        )
    posting_check(conversation=conversation, participation=participation)
    existing = Message.objects.filter(sender_id=sender.pk, client_id=client_id).first()
    if existing is not None:
        if existing.conversation_id != conversation.pk:
            raise Conflict(
                _(
                    "This client_id was already used for a message in another "
                    "conversation; use a new client_id for each message."
                ),
                code="client_id_reused",
            )
        existing.sender = sender
        return existing, False
    original = (
        reply_to_check(
            original=Message.objects.select_related("sender").filter(pk=reply_to).first(),
            reply_to=reply_to,
            participation=participation,
        )
        if reply_to is not None
        else None
    )
    if conversation.is_offline_refused and not sender.is_external:
        return offline_attempt_record(
            conversation=conversation, sender=sender, body=body, client_id=client_id
        )
    [mentioned] = mentions.mentions_resolve(posts=[(conversation, body)])
    now = timezone.now()
    seq = conversation.last_seq + 1
    message = Message.objects.create(
        conversation=conversation,
        seq=seq,
        sender=sender,
        body=body,
        client_id=client_id,
        created_at=now,
        file=file,
        reply_to=original,
        mentions=[username for _, username in mentioned],
    )
    mentions.mention_rows_store(mentioned=[(message, mentioned)])
    Conversation.objects.filter(pk=conversation.pk).update(last_seq=seq, last_message_at=now)
    conversation.last_seq, conversation.last_message_at = seq, now
    Participant.objects.filter(pk=participation.pk).update(last_read_seq=seq)
    _capture(
        conversation,
        event=ArchiveEvent.MESSAGE_POSTED,
        actor=sender,
        occurred_at=now,
        message=message,
        body=body,
    )
    if original is not None:
        _capture(
            conversation,
            event=ArchiveEvent.MESSAGE_REPLIED,
            actor=sender,
            occurred_at=now,
            message=message,
            payload=reply_capture_payload(original=original),
        )
    if message.mentions:
        _capture(
            conversation,
            event=ArchiveEvent.MESSAGE_MENTIONED,
            actor=sender,
            occurred_at=now,
            message=message,
            payload={"people": message.mentions},
        )
    search_index_queue_messages(message_ids=[message.pk])  # history search
    if conversation.is_external:
        delivery.outbound_delivery_enqueue(message=message, conversation=conversation)
    feeds.message_index(message=message)
    transaction.on_commit(lambda: realtime.message_new(message), robust=True)
    return message, True


def posting_check(*, conversation: Conversation, participation: Participant) -> None:
    """Refuse a post by a mere member of an auditorium room, or to a conversation an
    information barrier closed (a field of the locked row: no query)."""
    if conversation.posting_closed_at is not None:
        raise Forbidden(
            conversation.posting_closed_reason or "This conversation is closed for posting.",
            code="conversation_closed",
        )
    if (
        conversation.kind == Conversation.Kind.ROOM
        and conversation.room_kind == Conversation.RoomKind.AUDITORIUM
        and participation.role == Participant.Role.MEMBER
    ):
        raise Forbidden(
            _("This room is an auditorium: only its presenters and managers post."),
            code="auditorium",
        )


def message_lock_for_change(*, actor: Person, message_id: int) -> tuple[Message, Participant]:
    """Lock a message the actor can read and that is not deleted; return it with the actor's
    participation (its conversation loaded), or refuse as for an unknown id."""
    if not isinstance(message_id, int):
        raise InvalidInput(_("id must be a message id (an integer)."))
    message = Message.objects.select_for_update().filter(pk=message_id).first()
    participation = (
        participation_active(person_id=actor.pk, conversation_id=message.conversation_id)
        .select_related("conversation")
        .first()
        if message is not None
        else None
    )
    if participation is None or message.seq <= participation.visible_after_seq:
        raise NotFound(
            _("Message %(message_id)s does not exist or is not yours to see.")
            % {"message_id": message_id},
            code="message_not_found",
        )
    if message.is_deleted:
        raise Conflict(_("This message was deleted."), code="message_deleted")
    return message, participation


@transaction.atomic
def message_edit(*, editor: Person, message_id: int, body: str) -> Message:
    """Change the text of one's own message; the archive keeps the original and the edit."""
    body = _body_validate(body)
    message, participation = message_lock_for_change(actor=editor, message_id=message_id)
    if message.sender_id != editor.pk:
        raise Forbidden(_("You can only edit your own messages."), code="not_sender")
    posting_check(conversation=participation.conversation, participation=participation)
    now = timezone.now()
    message.body, message.edited_at = body, now
    message.save(update_fields=["body", "edited_at"])
    _capture(
        participation.conversation,
        event=ArchiveEvent.MESSAGE_EDITED,
        actor=editor,
        occurred_at=now,
        message=message,
        body=body,
    )
    search_index_queue_messages(message_ids=[message.pk])  # history search
    feeds.hashtags_reindex(message=message)
    transaction.on_commit(lambda: realtime.message_updated(message), robust=True)
    return message


@transaction.atomic
def message_delete(*, actor: Person, message_id: int) -> Message:
    """Delete a message (own, or any as a room manager); the archive keeps its text."""
    message, participation = message_lock_for_change(actor=actor, message_id=message_id)
    conversation = participation.conversation
    is_room_manager = (
        conversation.kind == Conversation.Kind.ROOM and participation.role == "manager"
    )
    if message.sender_id != actor.pk and not is_room_manager:
        raise Forbidden(
            _(
                "You can only delete your own messages (room managers may delete "
                "any in their room)."
            ),
            code="not_sender",
        )
    now = timezone.now()
    is_removal = message.sender_id != actor.pk
    message.deleted_at = now
    message.body = ""
    message.removed_by = actor.username if is_removal else ""
    message.save(update_fields=["deleted_at", "body", "removed_by"])
    _capture(
        conversation,
        event=ArchiveEvent.MESSAGE_REMOVED_BY_MANAGER
        if is_removal
        else ArchiveEvent.MESSAGE_DELETED,
        actor=actor,
        occurred_at=now,
        message=message,
        payload={"sender": message.sender.username},
    )
    search_index_queue_messages(message_ids=[message.pk])  # history search
    feeds.hashtags_reindex(message=message)
    transaction.on_commit(lambda: realtime.message_updated(message), robust=True)
    return message


@transaction.atomic
def conversation_mark_read(*, person: Person, conversation_id: int, seq: int) -> Participant:
    """Move the person's read marker forward (never backward) and tell their other sockets;
    in a direct or group conversation, archive the read and send the others a read receipt."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidInput(_("seq must be a non-negative integer."))
    participation = participation_get(person_id=person.pk, conversation_id=conversation_id)
    conversation = participation.conversation
    seq = min(seq, conversation.last_seq)
    if seq > participation.last_read_seq:
        moved = Participant.objects.filter(pk=participation.pk, last_read_seq__lt=seq).update(
            last_read_seq=seq
        )
        participation.last_read_seq = seq
        person_id, unread = person.pk, conversation.last_seq - seq
        mention_count = conversation_mention_count(participation=participation)
        transaction.on_commit(
            lambda: realtime.conversation_read(
                person_id=person_id,
                conversation_id=conversation_id,
                last_read_seq=seq,
                unread=unread,
                mention_count=mention_count,
            ),
            robust=True,
        )
        # Rooms have no read receipts (a room can have thousands of readers). A concurrent
        # read that moved the marker first has archived and announced it.
        if moved and conversation.kind != Conversation.Kind.ROOM:
            _capture(
                conversation,
                event=ArchiveEvent.CONVERSATION_READ,
                actor=person,
                occurred_at=timezone.now(),
                payload={"seq": seq},
            )
            transaction.on_commit(
                lambda: realtime.read_receipt(
                    conversation_id=conversation_id, person=person, seq=seq
                ),
                robust=True,
            )
    return participation
