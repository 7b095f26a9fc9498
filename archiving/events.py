"""The archive's event vocabulary: every kind of record, said once in words.

Design. Every export and every page that shows archive records to a person (EML transcripts,
the Exchange export, RSMF, the compliance console) describes a record through event_describe()
and nothing else, so the same record reads the same everywhere. A description names the actor
and the subject by their display names, quotes the text the record concerns, and says what
RSMF calls the event (RSMF 2.0 knows message, join, leave, history, disclaimer and unknown;
what it lacks goes into `custom` fields). Nothing internal leaves through a description: no
storage path, no bare database id, no JSON.

A kind added elsewhere (reactions, replies, receipts) registers its describer with @describes;
an unregistered kind still reads as words ("Alice Martin: reaction added (emoji: thumbs up)"),
never as JSON, and never with a key that names internal storage.

Languages. Sentences are put into words in the active language (an export overrides it with
the language the officer chose; a page uses the reader's): every sentence is one translatable
string with named placeholders, so a translation can order the words as its language needs.
The `details` labels are RSMF `custom` field names and stay English in every language.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from archiving.models import ArchiveEvent

# Payload keys that name internal storage or internal ids: never shown to a reader.
INTERNAL_KEYS = frozenset({"storage_path", "path", "storage", "blob", "file", "file_id"})


@dataclass(frozen=True)
class EventDescription:
    """A record in words.

    sentence: the statement, with its actor and without a final stop ("Bob Chen joined the
    room"); statement() adds the text it concerns, or the stop;
    text: the archived text the record carries or concerns (a message body), may be "";
    rsmf_type: the RSMF 2.0 event type; subject: the username the event is about (joined,
    left, invited...) when it is not the actor; is_message: the sentence is a chat line
    ("Alice Martin: hello") rather than an event; details: (label, value) pairs for the
    RSMF `custom` fields and the console, in words.
    """

    kind: str
    actor: str
    sentence: str
    text: str = ""
    rsmf_type: str = "unknown"
    subject: str = ""
    is_message: bool = False
    details: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    message_seq: int | None = None

    def statement(self, *, with_text: bool = True) -> str:
        """Return the sentence as a reader sees it: "Carol Diaz (manager) removed message 5 by
        Alice Martin: <its text>", or the sentence and a stop."""
        if with_text and self.text:
            return _("%(sentence)s: %(text)s") % {"sentence": self.sentence, "text": self.text}
        return _("%(sentence)s.") % {"sentence": self.sentence}


class Names:
    """Display names by username; a username the directory does not know is shown as is."""

    def __init__(self, displays: dict[str, str]) -> None:
        self.displays = displays

    def __call__(self, username: str | None) -> str:
        if not username:
            return _("The system")
        return self.displays.get(username) or username


class MessageTexts:
    """The latest archived text of each message, for edits, deletions and removals.

    Fed in chain order by the caller (note()); a message whose text came before the records
    being described is looked up in the archive once (lookup), so a removal on one day still
    quotes a message posted the day before.
    """

    def __init__(self, lookup: Callable[[int, int], str | None] | None = None) -> None:
        self.texts: dict[int, str] = {}
        self.lookup = lookup

    def get(self, message_id: int | None, *, conversation_id: int) -> str | None:
        if message_id is None:
            return None
        if message_id not in self.texts and self.lookup is not None:
            found = self.lookup(conversation_id, message_id)
            if found is not None:
                self.texts[message_id] = found
        return self.texts.get(message_id)

    def note(self, record) -> None:
        if record.message_id is not None and record.event in (
            ArchiveEvent.MESSAGE_POSTED,
            ArchiveEvent.MESSAGE_EDITED,
        ):
            self.texts[record.message_id] = record.body


def archived_text_lookup(conversation_id: int, message_id: int) -> str | None:
    """Return the latest posted or edited text of a message from the archive."""
    from archiving.models import ArchiveRecord

    return (
        ArchiveRecord.objects.filter(
            conversation_id=conversation_id,
            message_id=message_id,
            event__in=[ArchiveEvent.MESSAGE_POSTED, ArchiveEvent.MESSAGE_EDITED],
        )
        .order_by("-chain_index")
        .values_list("body", flat=True)
        .first()
    )


Describer = Callable[["_Context"], EventDescription]
_DESCRIBERS: dict[str, Describer] = {}


def describes(*kinds: str) -> Callable[[Describer], Describer]:
    """Register the describer of one or more event kinds."""

    def register(function: Describer) -> Describer:
        for kind in kinds:
            _DESCRIBERS[kind] = function
        return function

    return register


def described_kinds() -> set[str]:
    return set(_DESCRIBERS)


@dataclass
class _Context:
    record: object
    name: Names
    texts: MessageTexts
    place: str  # "the room" / "the conversation"

    @property
    def payload(self) -> dict:
        return self.record.payload or {}

    @property
    def actor(self) -> str:
        return self.record.actor_username or ""

    @property
    def who(self) -> str:
        return self.name(self.actor)

    @property
    def message_label(self) -> str:
        seq = self.record.message_seq
        return _("message #%(seq)s") % {"seq": seq} if seq is not None else _("a message")

    def earlier_text(self) -> str | None:
        return self.texts.get(self.record.message_id, conversation_id=self.record.conversation_id)

    def make(self, sentence: str, **fields) -> EventDescription:
        # A known event RSMF has no type for is a notice in the conversation (a disclaimer).
        fields.setdefault("rsmf_type", "disclaimer")
        return EventDescription(
            kind=self.record.event,
            actor=self.actor,
            sentence=sentence,
            message_seq=self.record.message_seq,
            **fields,
        )


def size_text(size) -> str:
    """Return a byte count as people read it (98 B, 1.2 KB, 3.4 MB)."""
    if not isinstance(size, int):
        return _("size unknown")
    if size < 1000:
        return f"{size} B"
    for unit in ("KB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            return f"{size:.1f} {unit}"
    return f"{size} B"  # pragma: no cover


def short_hash(value) -> str:
    return f"{value[:12]}..." if isinstance(value, str) and len(value) > 12 else str(value or "")


def quoted(text: str) -> str:
    return f"\N{LEFT DOUBLE QUOTATION MARK}{text}\N{RIGHT DOUBLE QUOTATION MARK}"


def place_of(kind: str) -> str:
    return (
        pgettext("place", "the room") if kind == "room" else pgettext("place", "the conversation")
    )


@describes(ArchiveEvent.MESSAGE_POSTED)
def _posted(c: _Context) -> EventDescription:
    return c.make(
        _("%(who)s wrote %(message)s") % {"who": c.who, "message": c.message_label},
        text=c.record.body,
        rsmf_type="message",
        is_message=True,
    )


@describes(ArchiveEvent.MESSAGE_EDITED)
def _edited(c: _Context) -> EventDescription:
    before = c.earlier_text()
    details = (("Previous text", before),) if before else ()
    return c.make(
        _("%(who)s edited %(message)s") % {"who": c.who, "message": c.message_label},
        text=c.record.body,
        rsmf_type="message",
        details=details,
    )


@describes(ArchiveEvent.MESSAGE_DELETED)
def _deleted(c: _Context) -> EventDescription:
    before = c.earlier_text()
    return c.make(
        _("%(who)s deleted %(message)s") % {"who": c.who, "message": c.message_label},
        text=before or "",
        rsmf_type="message",
    )


@describes(ArchiveEvent.MESSAGE_REMOVED_BY_MANAGER)
def _removed(c: _Context) -> EventDescription:
    author = c.payload.get("sender") or ""
    before = c.earlier_text()
    sentence = _("%(who)s (manager) removed %(message)s by %(author)s") % {
        "who": c.who,
        "message": c.message_label,
        "author": c.name(author),
    }
    return c.make(
        sentence,
        text=before or "",
        rsmf_type="message",
        subject=author,
        details=(("Removed by", c.who), ("Author", c.name(author))),
    )


@describes(ArchiveEvent.CONVERSATION_CREATED)
def _created(c: _Context) -> EventDescription:
    # The creator is the subject of the sentence; "with" names the others.
    members = [c.name(u) for u in c.payload.get("participants") or [] if u != c.actor]
    title = c.payload.get("title") or ""
    values = {"who": c.who, "title": quoted(title), "members": _(", ").join(members)}
    kind = c.record.conversation_kind
    if kind == "room" and title:
        sentence = (
            _("%(who)s created the room %(title)s with %(members)s")
            if members
            else _("%(who)s created the room %(title)s")
        )
    elif kind == "room":
        sentence = (
            _("%(who)s created the room with %(members)s")
            if members
            else _("%(who)s created the room")
        )
    elif kind == "direct":
        sentence = (
            _("%(who)s started a direct conversation with %(members)s")
            if members
            else _("%(who)s started a direct conversation")
        )
    else:
        sentence = (
            _("%(who)s started a group conversation with %(members)s")
            if members
            else _("%(who)s started a group conversation")
        )
    return c.make(sentence % values, rsmf_type="join")


def role_name(role: str) -> str:
    """A room role in words ("manager" -> "manager" / "관리자" / "管理員")."""
    names = {
        "member": pgettext("room role", "member"),
        "manager": pgettext("room role", "manager"),
        "presenter": pgettext("room role", "presenter"),
        "owner": pgettext("room role", "owner"),
    }
    return names.get(role, role)


@describes(ArchiveEvent.PARTICIPANT_JOINED)
def _joined(c: _Context) -> EventDescription:
    person = c.payload.get("person") or c.actor
    role = c.payload.get("role") or ""
    values = {"who": c.who, "person": c.name(person), "place": c.place, "role": role_name(role)}
    has_role = bool(role and role != "member")
    if not c.actor or person == c.actor:
        if c.payload.get("via") == "invitation":
            sentence = (
                _("%(person)s joined %(place)s as %(role)s, accepting an invitation")
                if has_role
                else _("%(person)s joined %(place)s, accepting an invitation")
            )
        else:
            sentence = (
                _("%(person)s joined %(place)s as %(role)s")
                if has_role
                else _("%(person)s joined %(place)s")
            )
    else:
        sentence = (
            _("%(who)s added %(person)s to %(place)s as %(role)s")
            if has_role
            else _("%(who)s added %(person)s to %(place)s")
        )
    return c.make(sentence % values, rsmf_type="join", subject=person)


@describes(ArchiveEvent.PARTICIPANT_LEFT)
def _left(c: _Context) -> EventDescription:
    person = c.payload.get("person") or c.actor
    reason = c.payload.get("reason") or ""
    values = {"who": c.who, "person": c.name(person), "place": c.place}
    if reason == "ethical_wall":
        sentence = _(
            "%(person)s was removed from %(place)s by an ethical wall "
            "(the room's category no longer allows them)"
        )
    elif reason == "removed_by_manager" or (c.actor and person != c.actor):
        sentence = _("%(who)s (manager) removed %(person)s from %(place)s")
    else:
        sentence = _("%(person)s left %(place)s")
    return c.make(sentence % values, rsmf_type="leave", subject=person)


@describes(ArchiveEvent.PARTICIPANT_INVITED)
def _invited(c: _Context) -> EventDescription:
    person = c.payload.get("person") or ""
    return c.make(
        _("%(who)s invited %(person)s to %(place)s")
        % {"who": c.who, "person": c.name(person), "place": c.place},
        subject=person,
        details=(("Invited", c.name(person)),),
    )


@describes(ArchiveEvent.INVITATION_DECLINED)
def _declined(c: _Context) -> EventDescription:
    person = c.payload.get("person") or c.actor
    return c.make(
        _("%(person)s declined the invitation to %(place)s")
        % {"person": c.name(person), "place": c.place},
        subject=person,
    )


@describes(ArchiveEvent.PARTICIPANT_ROLE_CHANGED)
def _role(c: _Context) -> EventDescription:
    person = c.payload.get("person") or ""
    before, after = c.payload.get("from") or "", c.payload.get("to") or ""
    values = {
        "who": c.who,
        "person": c.name(person),
        "role": role_name(after or "member"),
        "place": c.place,
        "before": role_name(before),
    }
    sentence = (
        _("%(who)s made %(person)s a %(role)s of %(place)s (was %(before)s)")
        if before
        else _("%(who)s made %(person)s a %(role)s of %(place)s")
    )
    return c.make(
        sentence % values,
        subject=person,
        details=(("Role", after or "member"), ("Previous role", before or "none")),
    )


def _room_field(key: str) -> str:
    names = {
        "name": pgettext("room field", "name"),
        "topic": pgettext("room field", "topic"),
        "description": pgettext("room field", "description"),
    }
    return names.get(key, key)


@describes(ArchiveEvent.ROOM_UPDATED)
def _room_updated(c: _Context) -> EventDescription:
    changes = []
    for key, value in sorted(c.payload.items()):
        label = _room_field(key)
        if key == "category" and value is None:
            changes.append(_("removed its category"))
        elif isinstance(value, str) and value:
            changes.append(
                _("set its %(field)s to %(value)s") % {"field": label, "value": quoted(value)}
            )
        elif isinstance(value, str):
            changes.append(_("cleared its %(field)s") % {"field": label})
    what = _("; ").join(changes) or _("changed its settings")
    return c.make(
        _("%(who)s changed the room: %(what)s") % {"who": c.who, "what": what},
        details=tuple((f"Room {k}", str(v)) for k, v in sorted(c.payload.items()) if v),
    )


@describes(ArchiveEvent.FILE_UPLOADED)
def _uploaded(c: _Context) -> EventDescription:
    name = c.payload.get("name") or _("a file")
    digest = c.payload.get("sha256") or ""
    values = {
        "who": c.who,
        "name": name,
        "size": size_text(c.payload.get("size")),
        "hash": short_hash(digest),
        "message": c.message_label,
    }
    as_message = c.record.message_seq is not None
    if digest and as_message:
        sentence = _("%(who)s uploaded %(name)s (%(size)s, SHA-256 %(hash)s) as %(message)s")
    elif digest:
        sentence = _("%(who)s uploaded %(name)s (%(size)s, SHA-256 %(hash)s)")
    elif as_message:
        sentence = _("%(who)s uploaded %(name)s (%(size)s) as %(message)s")
    else:
        sentence = _("%(who)s uploaded %(name)s (%(size)s)")
    sentence = sentence % values
    details = [("File name", name)]
    if digest:
        details.append(("File SHA-256", digest))
    if c.payload.get("content_type"):
        details.append(("File type", c.payload["content_type"]))
    return c.make(sentence, rsmf_type="message", details=tuple(details))


@describes(ArchiveEvent.FILE_DOWNLOADED)
def _downloaded(c: _Context) -> EventDescription:
    name = c.payload.get("name") or _("a file")
    digest = c.payload.get("sha256") or ""
    values = {"who": c.who, "name": name, "hash": short_hash(digest)}
    sentence = (
        _("%(who)s downloaded %(name)s (SHA-256 %(hash)s)")
        if digest
        else _("%(who)s downloaded %(name)s")
    ) % values
    details = [("File name", name)] + ([("File SHA-256", digest)] if digest else [])
    return c.make(sentence, details=tuple(details))


@describes(ArchiveEvent.HISTORY_VIEWED)
def _history(c: _Context) -> EventDescription:
    first, last = c.payload.get("from_seq"), c.payload.get("to_seq")
    if first is None:
        what = _("earlier messages")
    elif first == last:
        what = _("message #%(seq)s") % {"seq": first}
    else:
        what = _("messages #%(first)s to #%(last)s") % {"first": first, "last": last}
    # Repeats of the same view soon after are counted beside the chain (HistoryViewRepeat),
    # and loaded onto the record by whoever reads it (history_repeats_attach).
    views = 1 + (getattr(c.record, "repeat_views", 0) or 0)
    values = {"who": c.who, "what": what, "place": c.place, "views": views}
    sentence = (
        _("%(who)s viewed %(what)s of %(place)s's history (%(views)s times)")
        if views > 1
        else _("%(who)s viewed %(what)s of %(place)s's history")
    )
    return c.make(
        sentence % values,
        rsmf_type="history",
        details=(("Messages viewed", what),),
    )


@describes(ArchiveEvent.MESSAGE_DELIVERY_FAILED)
def _delivery_failed(c: _Context) -> EventDescription:
    to = c.payload.get("recipient") or _("an external recipient")
    reason = c.payload.get("error") or _("no reason given")
    sentence = _("%(message)s by %(who)s was not delivered to %(to)s: %(reason)s") % {
        "message": c.message_label,
        "who": c.who,
        "to": to,
        "reason": reason,
    }
    return c.make(
        sentence[:1].upper() + sentence[1:],
        details=(("Delivery error", reason), ("Recipient", to)),
    )


@describes(ArchiveEvent.MESSAGE_NOT_DELIVERED)
def _not_delivered(c: _Context) -> EventDescription:
    offline = ", ".join(c.payload.get("offline") or []) or _("the recipient")
    several = len(c.payload.get("offline") or []) > 1
    sentence = (
        _(
            "%(who)s sent a message that was not delivered because %(offline)s were offline "
            "and offline delivery is off"
        )
        if several
        else _(
            "%(who)s sent a message that was not delivered because %(offline)s was offline "
            "and offline delivery is off"
        )
    )
    return c.make(
        sentence % {"who": c.who, "offline": offline},
        text=c.record.body,
        details=((_("Not delivered to"), offline), (_("Reason"), _("recipient offline"))),
    )


@describes(ArchiveEvent.CONVERSATION_CLOSED, ArchiveEvent.CONVERSATION_REOPENED)
def _posting_closed(c: _Context) -> EventDescription:
    # Written by the information-barrier sweep: no person acted, the rule did.
    is_closed = c.record.event == ArchiveEvent.CONVERSATION_CLOSED
    reason = c.payload.get("reason") or _("an information barrier changed")
    is_room = c.record.conversation_kind == "room"
    if is_closed:
        sentence = (
            _("The room was closed for posting: %(reason)s")
            if is_room
            else _("The conversation was closed for posting: %(reason)s")
        )
    else:
        sentence = (
            _("The room was reopened for posting: %(reason)s")
            if is_room
            else _("The conversation was reopened for posting: %(reason)s")
        )
    return c.make(
        sentence % {"reason": reason},
        details=(("Reason", reason),),
    )


@describes(ArchiveEvent.MESSAGE_REPLIED)
def _replied(c: _Context) -> EventDescription:
    seq = c.payload.get("reply_to_seq")
    author = c.payload.get("reply_to_sender") or ""
    original = _("message #%(seq)s") % {"seq": seq} if seq is not None else _("a message")
    by = f" by {c.name(author)}" if author else ""
    values = {
        "who": c.who,
        "original": original,
        "author": c.name(author),
        "message": c.message_label,
    }
    sentence = (
        _("%(who)s replied to %(original)s by %(author)s with %(message)s")
        if author
        else _("%(who)s replied to %(original)s with %(message)s")
    )
    return c.make(
        sentence % values,
        subject=author,
        details=(("In reply to", f"{original}{by}"),),
    )


@describes(ArchiveEvent.MESSAGE_MENTIONED)
def _mentioned(c: _Context) -> EventDescription:
    people = [c.name(u) for u in c.payload.get("people") or []]
    if len(people) > 1:
        named = _("%(names)s and %(last)s") % {
            "names": _(", ").join(people[:-1]),
            "last": people[-1],
        }
    else:
        named = people[0] if people else _("nobody")
    return c.make(
        _("%(who)s mentioned %(named)s in %(message)s")
        % {"who": c.who, "named": named, "message": c.message_label},
        details=(("Mentioned", ", ".join(people)),),
    )


@describes(ArchiveEvent.REACTION_ADDED, ArchiveEvent.REACTION_REMOVED)
def _reaction(c: _Context) -> EventDescription:
    emoji = c.payload.get("emoji") or _("an emoji")
    author = c.payload.get("sender") or ""
    values = {"who": c.who, "emoji": emoji, "message": c.message_label, "author": c.name(author)}
    if c.record.event == ArchiveEvent.REACTION_ADDED:
        sentence = (
            _("%(who)s reacted %(emoji)s to %(message)s by %(author)s")
            if author
            else _("%(who)s reacted %(emoji)s to %(message)s")
        )
    else:
        sentence = (
            _("%(who)s removed the reaction %(emoji)s from %(message)s by %(author)s")
            if author
            else _("%(who)s removed the reaction %(emoji)s from %(message)s")
        )
    return c.make(sentence % values, subject=author, details=(("Reaction", emoji),))


@describes(ArchiveEvent.CONVERSATION_READ)
def _read(c: _Context) -> EventDescription:
    seq = c.payload.get("seq")
    upto = _("message #%(seq)s") % {"seq": seq} if seq is not None else _("the latest message")
    return c.make(
        _("%(who)s read %(place)s up to %(upto)s") % {"who": c.who, "place": c.place, "upto": upto},
        details=(("Read up to", upto),),
    )


def _generic(c: _Context) -> EventDescription:
    """A kind with no describer: its name and payload in words, internal keys left out."""
    what = c.record.event.replace(".", " ").replace("_", " ")
    parts = []
    for key, value in sorted(c.payload.items()):
        if key in INTERNAL_KEYS or isinstance(value, dict | list) or value in (None, ""):
            continue
        parts.append(f"{key.replace('_', ' ')}: {value}")
    extra = f" ({'; '.join(parts)})" if parts else ""
    return c.make(
        _("%(who)s: %(what)s") % {"who": c.who, "what": f"{what}{extra}"},
        text=c.record.body,
        rsmf_type="unknown",
    )


def event_describe(
    record, *, name: Names | Callable[[str | None], str], texts: MessageTexts | None = None
) -> EventDescription:
    """Return a record in words (see the module's design)."""
    describer = _DESCRIBERS.get(record.event, _generic)
    context = _Context(
        record=record,
        name=name,
        texts=texts if texts is not None else MessageTexts(archived_text_lookup),
        place=place_of(record.conversation_kind),
    )
    return describer(context)


def event_line(description: EventDescription, *, name: Callable[[str | None], str]) -> str:
    """Return a record as one transcript line (without its time): "#4 Alice Martin: hello" for
    a message (numbered as edits and removals refer to it), the statement otherwise."""
    if description.is_message:
        number = f"#{description.message_seq} " if description.message_seq is not None else ""
        return f"{number}{name(description.actor)}: {description.text}"
    return description.statement()
