"""A conversation-day slice of archive records and its readable transcript (text and HTML).

Shared by the EML, Exchange and RSMF writers. Everything here is a pure function of the
records and the directory, so the same slice always renders to the same bytes. Records are put
into words by archiving/events.py (the one vocabulary); an upload's stored file is given as an
attachment, and its storage path never leaves Parley.
"""

import hashlib
import html
import mimetypes
from dataclasses import dataclass, field
from datetime import UTC, date
from pathlib import Path

from django.conf import settings
from django.utils import dateformat
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from archiving.events import (
    EventDescription,
    MessageTexts,
    Names,
    archived_text_lookup,
    event_describe,
    event_line,
)
from archiving.history_views import history_repeats_attach
from archiving.models import ArchiveEvent, ArchiveRecord
from directory.models import Person

MAIL_DOMAIN = "parley.invalid"  # RFC 2606: for people without an address in the directory


@dataclass(frozen=True)
class PersonInfo:
    username: str
    display: str
    email: str


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes
    content_type: str
    sha256: str


@dataclass
class Slice:
    """The records of one conversation on one UTC day (part > 1 if the day recurs)."""

    conversation_id: int
    kind: str
    title: str
    day: date
    part: int
    members: list[str]
    records: list[ArchiveRecord] = field(default_factory=list)
    people: dict[str, PersonInfo] = field(default_factory=dict)
    custodians: frozenset[str] = frozenset()
    descriptions: list[EventDescription] | None = None

    @property
    def label(self) -> str:
        suffix = f"-part{self.part}" if self.part > 1 else ""
        return f"conversation-{self.conversation_id}/{self.day.isoformat()}{suffix}"

    @property
    def content_key(self) -> str:
        """Return a digest of the slice's record hashes: stable for the same records."""
        digest = hashlib.sha256()
        for record in self.records:
            digest.update(record.record_hash.encode())
        return digest.hexdigest()

    @property
    def usernames(self) -> list[str]:
        """Return everyone in the slice: members at its start, then actors and named people."""
        names = list(self.members)
        for record in self.records:
            payload = record.payload or {}
            for name in (record.actor_username, payload.get("person"), payload.get("sender")):
                if isinstance(name, str) and name and name not in names:
                    names.append(name)
        return names


def people_lookup(usernames: set[str]) -> dict[str, PersonInfo]:
    """Return display names and e-mail addresses from the directory (username if unknown)."""
    found = {
        p.username: PersonInfo(p.username, p.display_name or p.username, p.email or "")
        for p in Person.objects.filter(username__in=sorted(usernames)).only(
            "username", "display_name", "email"
        )
    }
    return {name: found.get(name) or PersonInfo(name, name, "") for name in usernames}


def mail_address(person: PersonInfo) -> str:
    return person.email or f"{person.username}@{MAIL_DOMAIN}"


def timestamp(record: ArchiveRecord) -> str:
    return record.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def slice_names(slice_: Slice) -> Names:
    return Names({u: p.display for u, p in slice_.people.items()})


@dataclass(frozen=True)
class Line:
    time: str
    actor: str  # display name of who did it
    description: EventDescription
    text_line: str  # the whole statement after the time, as the text transcript prints it
    note: str


def slice_descriptions(slice_: Slice) -> list[EventDescription]:
    """Return the slice's records in words, in chain order (one list, reused by every
    writer: a removal quotes the text the removed message had at that point)."""
    if slice_.descriptions is None:
        history_repeats_attach(slice_.records)
        names = slice_names(slice_)
        texts = MessageTexts(archived_text_lookup)
        out = []
        for record in slice_.records:
            out.append(event_describe(record, name=names, texts=texts))
            texts.note(record)
        slice_.descriptions = out
    return slice_.descriptions


def attachment_of(record: ArchiveRecord) -> Attachment | None:
    """Return the stored file an upload record names (read from under MEDIA_ROOT).

    The storage path stays inside Parley: it locates the bytes, and is never written out.
    """
    if record.event != ArchiveEvent.FILE_UPLOADED:
        return None
    payload = record.payload or {}
    name = payload.get("name") or payload.get("filename")
    stored = next((payload[k] for k in ("storage_path", "path", "storage") if payload.get(k)), None)
    if not isinstance(name, str) or not isinstance(stored, str):
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / stored).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None  # outside the media root, or no longer stored: the transcript says so
    data = path.read_bytes()
    content_type = payload.get("content_type") or mimetypes.guess_type(name)[0]
    return Attachment(
        name=Path(name).name or "attachment",
        data=data,
        content_type=content_type or "application/octet-stream",
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _lines(slice_: Slice) -> list[Line]:
    """Return the transcript's entries. A file's message and its upload record are one entry
    (the upload's sentence names the file, its size and hash, and the message number)."""
    names = slice_names(slice_)
    out = []
    pairs = list(zip(slice_.records, slice_descriptions(slice_), strict=True))
    for position, (record, description) in enumerate(pairs):
        following = pairs[position + 1][0] if position + 1 < len(pairs) else None
        if (
            record.event == ArchiveEvent.MESSAGE_POSTED
            and following is not None
            and following.event == ArchiveEvent.FILE_UPLOADED
            and following.message_id == record.message_id
        ):
            continue
        time = record.occurred_at.astimezone(UTC).strftime("%H:%M:%S")
        note = ""
        if record.event == ArchiveEvent.FILE_UPLOADED:
            attachment = attachment_of(record)
            expected = (record.payload or {}).get("sha256")
            if attachment is None:
                note = _("[file no longer stored: only its name and SHA-256 are archived]")
            elif expected and expected != attachment.sha256:
                note = _("[attached: %(name)s, its SHA-256 DOES NOT MATCH the archive record]") % {
                    "name": attachment.name
                }
            else:
                note = _("[attached: %(name)s]") % {"name": attachment.name}
        out.append(
            Line(
                time=time,
                actor=names(record.actor_username),
                description=description,
                text_line=event_line(description, name=names),
                note=note,
            )
        )
    return out


def transcript_heading(slice_: Slice) -> str:
    """The title and the UTC day, the day written as the transcript's language writes dates
    (English keeps ISO 8601: 2026-11-02)."""
    day = dateformat.format(slice_.day, pgettext("transcript heading date format", "Y-m-d"))
    return _("%(title)s - %(date)s (UTC)") % {"title": slice_.title, "date": day}


def transcript_text(slice_: Slice) -> str:
    """Return the plain-text transcript: one entry per record, continuation lines indented
    under the entry (never at column 0, where they would read as a new entry)."""
    members = ", ".join(slice_.people[u].display for u in slice_.usernames)
    lines = [
        transcript_heading(slice_),
        _("Times are UTC."),
        _("Participants: %(members)s") % {"members": members},
        "",
    ]
    indent = " " * len("[00:00:00] ")
    for line in _lines(slice_):
        first, *rest = line.text_line.split("\n")
        lines.append(f"[{line.time}] {first}")
        lines.extend(f"{indent}{more}" for more in rest)
        if line.note:
            lines.append(f"{indent}{line.note}")
    return "\n".join(lines) + "\n"


_STYLE = (
    "table{border-collapse:collapse}th,td{text-align:left;vertical-align:top;"
    "padding:.2em .6em;border-bottom:1px solid #ddd}td:nth-child(-n+2){white-space:nowrap}"
)


def transcript_html(slice_: Slice) -> str:
    """Return the HTML transcript; every piece of archived text is escaped."""
    e = html.escape
    members = ", ".join(e(slice_.people[u].display) for u in slice_.usernames)
    rows = []
    for line in _lines(slice_):
        described = line.description
        css = described.kind.replace(".", "-").replace("_", "-")
        what = (
            _("message #%(seq)s") % {"seq": described.message_seq}
            if described.is_message and described.message_seq is not None
            else ""
            if described.is_message
            else e(described.statement(with_text=False))
        )
        text = e(described.text).replace("\n", "<br>")
        rows.append(
            f'<tr class="{e(css)}"><td>{e(line.time)}</td><td>{e(line.actor)}</td>'
            f"<td>{what}</td><td>{text}"
            + (f"<br><small>{e(line.note)}</small>" if line.note else "")
            + "</td></tr>"
        )
    # The names are escaped one by one; the sentence around them is escaped as a whole.
    participants = e(_("Participants: %(members)s") % {"members": "\0"}).replace("\0", members)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{e(transcript_heading(slice_))}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{e(transcript_heading(slice_))}</h1><p>{participants}</p>"
        f"<table><thead><tr><th>{e(_('Time (UTC)'))}</th><th>{e(_('Who'))}</th>"
        f"<th>{e(_('Event'))}</th><th>{e(_('Text'))}</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>\n"
    )
