"""Missed-IM e-mail: one digest for a person who left direct or group messages unread.

Design. Lync mailed a "missed conversation" notice; Parley sends one digest per person and
run (chat.tasks.missed_im_notices_send, every minute from beat) when:
- the person has no live connection (an endpoint seen within PARLEY_ENDPOINT_EXPIRY_SECONDS),
  is active, internal, has an e-mail address and has not turned the notice off;
- one of their direct or group conversations holds a message they have not read, that no
  earlier digest announced, older than PARLEY_MISSED_IM_EMAIL_MINUTES. The digest then lists
  every such conversation with what is unread in it now.
Each participation keeps `noticed_seq`, the newest message a digest announced, so a message is
announced at most once; reading it (last_read_seq) counts too. Rooms are left out: persistent
chat is read when one chooses, not chased by mail.

What the mail says. E-mail leaves the archive's control, so it names who wrote and where,
never what: no message text, no file name. It leaves out what the person may not see:
messages before they joined a group (visible_after_seq), deleted ones, messages of people
they blocked, and conversations of rooms their category walls shut them out of. Do not
disturb (a manual state in force) holds the mail back except for conversations with a message
from someone the person put in their workgroup (DESIGN.md section 4: "may interrupt do not
disturb"); the others wait, unannounced, until do not disturb ends.

Delivery. Each person's digest is sent inside the transaction that moves their noticed_seq,
with their participations locked (SKIP LOCKED: two runs never mail the same person). A failed
send rolls back and the next run tries again; a crash between a sent mail and the commit can
repeat a digest (at least once, never lost).
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Greatest
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from chat.models import Conversation, Message, NoticePreference, Participant
from chat.selectors import unwalled
from directory.locale import language_choose
from directory.models import Person
from presence.models import Contact, Endpoint, PresenceState, Relationship
from presence.selectors import manual_availability

logger = logging.getLogger(__name__)

_off_said = False


@dataclass
class MissedConversation:
    """One conversation of a digest: its name, link, and who wrote the unread messages."""

    conversation_id: int
    name: str
    link: str
    count: int
    senders: list[str] = field(default_factory=list)
    last_seq: int = 0


def missed_im_mail_is_on() -> bool:
    """Return whether missed-IM e-mail is configured (EMAIL_HOST set)."""
    return bool(settings.EMAIL_HOST)


def missed_im_email_wanted(*, person: Person) -> bool:
    """Return whether the person wants missed-IM e-mail (on unless they turned it off)."""
    return not NoticePreference.objects.filter(person=person, is_missed_im_email_on=False).exists()


def _live_endpoint(now: datetime) -> Exists:
    cutoff = now - timedelta(seconds=settings.PARLEY_ENDPOINT_EXPIRY_SECONDS)
    return Exists(
        Endpoint.objects.filter(person_id=OuterRef("person_id"), last_seen_at__gte=cutoff)
    )


def _unread_floor():
    return Greatest("last_read_seq", "noticed_seq", "visible_after_seq")


def _candidates(now: datetime) -> list[int]:
    """Return the ids of the people a digest may be due to (cheap pre-selection)."""
    due = now - timedelta(minutes=settings.PARLEY_MISSED_IM_EMAIL_MINUTES)
    opted_out = NoticePreference.objects.filter(
        person_id=OuterRef("person_id"), is_missed_im_email_on=False
    )
    old_unread = Message.objects.filter(
        conversation_id=OuterRef("conversation_id"),
        seq__gt=OuterRef("floor"),
        created_at__lte=due,
        deleted_at__isnull=True,
    ).exclude(sender_id=OuterRef("person_id"))
    return list(
        Participant.objects.filter(
            left_at__isnull=True,
            conversation__kind__in=[Conversation.Kind.DIRECT, Conversation.Kind.GROUP],
            person__is_active=True,
            person__is_external=False,
        )
        .exclude(person__email="")
        .annotate(floor=_unread_floor())
        .filter(conversation__last_seq__gt=F("floor"))
        .filter(Exists(old_unread), ~_live_endpoint(now), ~Exists(opted_out))
        .values_list("person_id", flat=True)
        .distinct()
    )


def _conversation_name(conversation: Conversation, *, members: list[Person], reader: Person):
    if conversation.title:
        return conversation.title
    others = [m.name for m in members if m.pk != reader.pk]
    return ", ".join(sorted(others)) or _("Conversation")


def _is_in_do_not_disturb(person: Person, now: datetime) -> bool:
    state = PresenceState.objects.select_related("custom_state").filter(person=person).first()
    return state is not None and manual_availability(state, now=now) == "do-not-disturb"


def missed_im_digest_collect(
    *, person: Person, now: datetime
) -> tuple[list[MissedConversation], dict[int, int]]:
    """Return what a digest for the person would announce now (locking their rows), and
    {conversation id: seq} of conversations whose unread messages are all from people they
    blocked (marked as announced without a word, so they are not looked at every run)."""
    due = now - timedelta(minutes=settings.PARLEY_MISSED_IM_EMAIL_MINUTES)
    participations = list(
        Participant.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("conversation")
        .filter(
            unwalled(person.pk),
            left_at__isnull=True,
            person=person,
            conversation__kind__in=[Conversation.Kind.DIRECT, Conversation.Kind.GROUP],
        )
        .annotate(floor=_unread_floor())
        .filter(conversation__last_seq__gt=F("floor"))
    )
    if not participations:
        return [], {}
    relationships = dict(
        Contact.objects.filter(owner=person).values_list("person_id", "relationship")
    )
    blocked = {pid for pid, rel in relationships.items() if rel == Relationship.BLOCKED}
    workgroup = {pid for pid, rel in relationships.items() if rel == Relationship.WORKGROUP}
    is_dnd = _is_in_do_not_disturb(person, now)
    floors = Q()
    for p in participations:
        floors |= Q(conversation_id=p.conversation_id, seq__gt=p.floor)
    messages = defaultdict(list)
    newest: dict[int, int] = {}
    for message in (
        Message.objects.filter(floors, deleted_at__isnull=True)
        .exclude(sender_id=person.pk)
        .select_related("sender")
        .order_by("conversation_id", "seq")
    ):
        newest[message.conversation_id] = message.seq
        if message.sender_id not in blocked:
            messages[message.conversation_id].append(message)
    members = defaultdict(list)
    for p in Participant.objects.filter(
        left_at__isnull=True, conversation_id__in=[p.conversation_id for p in participations]
    ).select_related("person"):
        members[p.conversation_id].append(p.person)
    missed, silenced = [], {}
    for p in participations:
        unread = messages.get(p.conversation_id, [])
        if not unread and p.conversation_id in newest:
            silenced[p.conversation_id] = newest[p.conversation_id]
            continue
        if not unread or min(m.created_at for m in unread) > due:
            continue
        if is_dnd and not any(m.sender_id in workgroup for m in unread):
            continue  # held back until do not disturb ends
        senders = list(dict.fromkeys(m.sender.name for m in unread))
        missed.append(
            MissedConversation(
                conversation_id=p.conversation_id,
                name=_conversation_name(
                    p.conversation, members=members[p.conversation_id], reader=person
                ),
                link=f"{settings.PARLEY_PUBLIC_URL}/?conversation={p.conversation_id}",
                count=len(unread),
                senders=senders,
                last_seq=unread[-1].seq,
            )
        )
    return missed, silenced


def _digest_mail(*, person: Person, missed: list[MissedConversation], connection):
    total = sum(c.count for c in missed)
    senders = list(dict.fromkeys(name for c in missed for name in c.senders))
    subject = ngettext(
        "Parley: %(count)d missed message from %(senders)s",
        "Parley: %(count)d missed messages from %(senders)s",
        total,
    ) % {"count": total, "senders": ", ".join(senders)}
    intro = ngettext(
        "While you were offline you received %(count)d message in %(conversations)d conversation:",
        "While you were offline you received %(count)d messages in %(conversations)d "
        "conversations:",
        total,
    ) % {"count": total, "conversations": len(missed)}
    lines, items = [], []
    for c in missed:
        what = ngettext(
            "%(count)d message from %(senders)s",
            "%(count)d messages from %(senders)s",
            c.count,
        ) % {"count": c.count, "senders": ", ".join(c.senders)}
        lines.append(f"- {c.name}: {what}\n  {c.link}")
        items.append(f'<li><a href="{escape(c.link)}">{escape(c.name)}</a>: {escape(what)}</li>')
    greeting = _("Hello %(name)s,") % {"name": person.name}
    footer = _(
        "Open Parley to read and answer them. You get this e-mail because you were offline; "
        "you can turn it off in Parley."
    )
    text = f"{greeting}\n\n{intro}\n\n" + "\n".join(lines) + f"\n\n{footer}\n"
    html = (
        f"<p>{escape(greeting)}</p><p>{escape(intro)}</p><ul>{''.join(items)}</ul>"
        f"<p>{escape(footer)}</p>"
    )
    mail = EmailMultiAlternatives(
        subject=subject, body=text, to=[person.email], connection=connection
    )
    mail.attach_alternative(html, "text/html")
    return mail


def missed_im_notices_send(*, now: datetime | None = None) -> int:
    """Send each person due one missed-IM digest; return how many were sent."""
    global _off_said
    if not missed_im_mail_is_on():
        if not _off_said:
            logger.info("missed-IM e-mail is off: EMAIL_HOST is not set")
            _off_said = True
        return 0
    now = now or timezone.now()
    sent = 0
    connection = get_connection()
    try:
        for person in Person.objects.filter(pk__in=_candidates(now)).order_by("pk"):
            with transaction.atomic():
                # Re-checked under the lock of their rows: they may have connected meanwhile.
                if Endpoint.objects.filter(
                    person=person,
                    last_seen_at__gte=now
                    - timedelta(seconds=settings.PARLEY_ENDPOINT_EXPIRY_SECONDS),
                ).exists():
                    continue
                # In the person's language: their own setting, else the organisation's.
                with translation.override(language_choose(person=person)):
                    missed, silenced = missed_im_digest_collect(person=person, now=now)
                    mail = (
                        _digest_mail(person=person, missed=missed, connection=connection)
                        if missed
                        else None
                    )
                if mail is not None:
                    mail.send()
                    sent += 1
                announced = {**silenced, **{c.conversation_id: c.last_seq for c in missed}}
                for conversation_id, seq in announced.items():
                    Participant.objects.filter(
                        person=person, conversation_id=conversation_id, left_at__isnull=True
                    ).update(noticed_seq=Greatest("noticed_seq", seq))
    finally:
        connection.close()
    return sent
