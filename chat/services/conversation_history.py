"""Conversation history in a person's own mailbox, as Lync kept it in "Conversation History".

For each person who turned it on (MailboxSync.keeps_conversation_history, within the
administrator's PARLEY_CONVERSATION_HISTORY), every UTC day of a direct or group conversation
they took part in becomes one message in the Conversation History folder of their mailbox
(created when missing). Rooms are left out: persistent chat keeps its own history, as Lync's
did. A person sees in it what Parley shows them: messages from the point they could read
(visible_after_seq) until they left, deleted ones as a notice, edits as they now read.

Idempotent by Message-ID: each item's Message-ID is derived from the person, the conversation
and the day alone. A day is written again only when its transcript now reads differently (its
digest is kept in ConversationHistoryDay); the new item is uploaded first and then every older
item with the same Message-ID is deleted, so a later message the same day replaces that day's
item, a run cut short between the two steps leaves at worst one extra copy that the next run
removes, and nothing already written is lost when Exchange refuses or throttles.

Each run looks at the days since the previous one (the current day again, for late messages
and edits); an edit or deletion made later than that to a message of an older day is not
carried to that day's item.

Runs in a Celery task after the messages are committed (a beat entry), never on the write path.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext

from chat.models import Conversation, ConversationHistoryDay, Message, Participant
from directory import services as directory_services
from directory.integrations import mailbox as mailboxes
from directory.locale import language_choose
from directory.models import MailboxSync, Person

log = logging.getLogger(__name__)

# A message is stamped inside its transaction and committed a moment later: a run looks again
# at the day of (last run - this margin), so a message committed late is never skipped.
COMMIT_MARGIN = timedelta(minutes=2)
SMTP_POLICY = policy.SMTP.clone(max_line_length=78)


@dataclass
class HistoryRun:
    written: int = 0
    unchanged: int = 0


def history_message_id(*, person_id: int, conversation_id: int, day: date) -> str:
    """Return the Message-ID of a person's conversation-day (the same at every run)."""
    return f"<history.p{person_id}.c{conversation_id}.{day:%Y%m%d}@parley.conversation-history>"


def _visible_messages(person: Person):
    """Direct and group messages the person could read, as the conversation shows them."""
    readable = Participant.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        person=person,
        visible_after_seq__lt=OuterRef("seq"),
    ).filter(Q(left_at__isnull=True) | Q(left_at__gte=OuterRef("created_at")))
    return Message.objects.filter(
        Exists(readable),
        conversation__kind__in=[Conversation.Kind.DIRECT, Conversation.Kind.GROUP],
    )


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


def _address(person: Person) -> Address:
    local, _, domain = (person.email or f"{person.username}@parley.invalid").rpartition("@")
    return Address(display_name=person.name, username=local, domain=domain)


def history_transcript(*, person: Person, conversation: Conversation, day: date) -> bytes | None:
    """The conversation-day as a message for the person's mailbox, in their language (their
    own setting, else the organisation's default); times stay UTC."""
    with translation.override(language_choose(person=person)):
        return _history_transcript(person=person, conversation=conversation, day=day)


def _history_transcript(*, person: Person, conversation: Conversation, day: date) -> bytes | None:
    """Return the RFC 5322 message of one conversation-day as the person saw it (None: empty)."""
    start, end = _day_bounds(day)
    messages = list(
        _visible_messages(person)
        .filter(conversation=conversation, created_at__gte=start, created_at__lt=end)
        .select_related("sender")
        .order_by("seq")
    )
    if not messages:
        return None
    people = {m.sender_id: m.sender for m in messages}
    others = [
        p.person
        for p in Participant.objects.filter(conversation=conversation)
        .exclude(person=person)
        .select_related("person")
    ]
    names = sorted({p.name for p in others}) or [person.name]
    lines = []
    for message in messages:
        stamp = message.created_at.astimezone(UTC).strftime("%H:%M")
        if message.is_deleted:
            body = gettext("(message deleted)")
        else:
            body = message.body + (gettext(" (edited)") if message.edited_at else "")
        lines.append(f"[{stamp}] {message.sender.name}: {body}")
    mail = EmailMessage(policy=SMTP_POLICY)
    mail["From"] = _address(messages[0].sender)
    recipients = {p.pk: p for p in [*people.values(), *others, person]}
    recipients.pop(messages[0].sender_id, None)
    mail["To"] = [_address(p) for p in recipients.values()] or [_address(person)]
    mail["Subject"] = gettext("Conversation with %(names)s") % {"names": ", ".join(names)}
    mail["Date"] = format_datetime(messages[-1].created_at.astimezone(UTC), usegmt=True)
    mail["Message-ID"] = history_message_id(
        person_id=person.pk, conversation_id=conversation.pk, day=day
    )
    mail["X-Parley-Conversation"] = str(conversation.pk)
    mail["X-Mailer"] = "Parley conversation history"
    heading = gettext("%(day)s (times in UTC)") % {"day": day.isoformat()}
    mail.set_content("\n".join([heading, "", *lines]) + "\n", cte="quoted-printable")
    return mail.as_bytes()


def _changed_days(*, person: Person, since: datetime) -> list[tuple[int, date]]:
    start, _ = _day_bounds(since.astimezone(UTC).date())
    # From the person's conversations that saw a message since then (Conversation keeps its
    # last message's time), not from the whole message table.
    active = Participant.objects.filter(
        person=person,
        conversation__kind__in=[Conversation.Kind.DIRECT, Conversation.Kind.GROUP],
        conversation__last_message_at__gte=start,
    ).values("conversation_id")
    rows = (
        _visible_messages(person)
        .filter(conversation_id__in=active, created_at__gte=start)
        .values_list("conversation_id", "created_at")
    )
    return sorted({(cid, at.astimezone(UTC).date()) for cid, at in rows})


def conversation_history_write(*, person: Person, mailbox: mailboxes.Mailbox) -> HistoryRun:
    """Write the person's new or changed conversation-days to their Conversation History.

    Raises MailboxError (the run's progress so far is kept; the rest is tried again later).
    """
    now = timezone.now()
    sync = MailboxSync.objects.get(person=person)
    since = sync.history_checked_until or now
    run = HistoryRun()
    written = {
        (row.conversation_id, row.day): row.digest
        for row in ConversationHistoryDay.objects.filter(
            person=person, day__gte=since.astimezone(UTC).date()
        )
    }
    folder = None
    conversations = {}
    for conversation_id, day in _changed_days(person=person, since=since):
        conversation = conversations.get(conversation_id) or Conversation.objects.get(
            pk=conversation_id
        )
        conversations[conversation_id] = conversation
        mime = history_transcript(person=person, conversation=conversation, day=day)
        if mime is None:
            continue
        digest = hashlib.sha256(mime).hexdigest()
        if written.get((conversation_id, day)) == digest:
            run.unchanged += 1
            continue
        if folder is None:
            folder = mailbox.folder_ensure(
                address=person.email, name=mailboxes.CONVERSATION_HISTORY_FOLDER, kind="messages"
            )
        message_id = history_message_id(
            person_id=person.pk, conversation_id=conversation_id, day=day
        )
        older = mailbox.message_find(folder=folder, message_id=message_id)
        item_id = mailbox.message_upload(folder=folder, mime=mime)
        mailbox.items_delete(folder=folder, item_ids=[i for i in older if i != item_id])
        ConversationHistoryDay.objects.update_or_create(
            person=person,
            conversation_id=conversation_id,
            day=day,
            defaults={"digest": digest, "item_id": item_id, "written_at": now},
        )
        run.written += 1
    MailboxSync.objects.filter(pk=sync.pk).update(history_checked_until=now - COMMIT_MARGIN)
    return run


def conversation_history_people(*, person_id: int | None = None) -> list[int]:
    """Return the ids of the people whose conversation history is to be written."""
    return directory_services.mailbox_feature_people(
        feature="conversation_history", person_id=person_id
    )


def conversation_history_write_person(*, person_id: int) -> HistoryRun | None:
    """Run conversation_history_write for one person and report how it ended (see
    directory.services.mailbox_feature_run)."""
    return directory_services.mailbox_feature_run(
        feature="conversation_history",
        person_id=person_id,
        run=conversation_history_write,
        retry_text=gettext("Conversation history: %(error)s, will retry."),
        error_text=gettext("Conversation history: %(error)s"),
    )
