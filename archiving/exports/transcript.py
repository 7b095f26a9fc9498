"""A conversation-day slice of archive records and its readable transcript (text and HTML).

Shared by the EML, Exchange and RSMF writers. Everything here is a pure function of the
records and the directory, so the same slice always renders to the same bytes. Events this
module does not know (new kinds added by other parts of Parley) are shown generically, with
their payload; a record whose payload names a stored file is given as an attachment.
"""

import hashlib
import html
import json
import mimetypes
from dataclasses import dataclass, field
from datetime import UTC, date
from pathlib import Path

from django.conf import settings

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
            for name in (record.actor_username, record.payload.get("person")):
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


def describe(record: ArchiveRecord, people: dict[str, PersonInfo]) -> tuple[str, str]:
    """Return (what happened, text) of a record, as a reviewer reads it."""

    def name(username: str | None) -> str:
        info = people.get(username or "")
        return info.display if info else (username or "someone")

    payload = record.payload or {}
    seq = f" #{record.message_seq}" if record.message_seq is not None else ""
    match record.event:
        case ArchiveEvent.MESSAGE_POSTED:
            return f"message{seq}", record.body
        case ArchiveEvent.MESSAGE_EDITED:
            return f"edited message{seq}", record.body
        case ArchiveEvent.MESSAGE_DELETED:
            return f"deleted message{seq}", ""
        case ArchiveEvent.PARTICIPANT_JOINED:
            return "joined", f"{name(payload.get('person'))} joined the conversation"
        case ArchiveEvent.PARTICIPANT_LEFT:
            return "left", f"{name(payload.get('person'))} left the conversation"
        case ArchiveEvent.CONVERSATION_CLOSED:
            return "closed for posting", payload.get("reason", "")
        case ArchiveEvent.CONVERSATION_REOPENED:
            return "reopened for posting", payload.get("reason", "")
        case ArchiveEvent.CONVERSATION_CREATED:
            members = ", ".join(name(p) for p in payload.get("participants") or [])
            return "created the conversation", f"with {members}" if members else ""
    details = json.dumps(payload, sort_keys=True, ensure_ascii=False) if payload else ""
    text = "\n".join(part for part in (record.body, details) if part)
    return record.event, text


def _names_a_stored_file(payload: dict) -> bool:
    has_name = bool(payload.get("name") or payload.get("filename"))
    return has_name and any(payload.get(k) for k in ("storage_path", "path", "storage"))


def attachment_of(record: ArchiveRecord) -> Attachment | None:
    """Return the stored file a record's payload names (name + path under MEDIA_ROOT)."""
    payload = record.payload or {}
    name = payload.get("name") or payload.get("filename")
    stored = next(
        (payload[k] for k in ("storage_path", "path", "storage", "file") if payload.get(k)), None
    )
    if not isinstance(name, str) or not isinstance(stored, str):
        return None
    root = Path(settings.MEDIA_ROOT).resolve()
    path = (root / stored).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None  # outside the media root, or no longer stored: the transcript says so
    data = path.read_bytes()
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Attachment(
        name=Path(name).name or "attachment",
        data=data,
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _lines(slice_: Slice) -> list[tuple[str, str, str, str, str]]:
    out = []
    for record in slice_.records:
        what, text = describe(record, slice_.people)
        who = slice_.people.get(record.actor_username)
        sender = who.display if who else (record.actor_username or "system")
        time = record.occurred_at.astimezone(UTC).strftime("%H:%M:%S")
        note = ""
        expected = (record.payload or {}).get("sha256")
        attachment = attachment_of(record)
        if attachment is not None:
            note = f"[attachment {attachment.name}, {len(attachment.data)} bytes"
            if expected and expected != attachment.sha256:
                note += ", SHA-256 DOES NOT MATCH the archive record"
            note += "]"
        elif record.event != ArchiveEvent.FILE_DOWNLOADED and _names_a_stored_file(
            record.payload or {}
        ):
            note = "[file not available]"
        out.append((time, sender, what, text, note))
    return out


def transcript_heading(slice_: Slice) -> str:
    return f"{slice_.title} - {slice_.day.isoformat()} (UTC)"


def transcript_text(slice_: Slice) -> str:
    """Return the plain-text transcript: one block per record."""
    members = ", ".join(slice_.people[u].display for u in slice_.usernames)
    lines = [transcript_heading(slice_), f"Participants: {members}", ""]
    for time, sender, what, text, note in _lines(slice_):
        head = f"[{time}] {sender}" + ("" if what.startswith("message") else f" ({what})")
        lines.append(f"{head}: {text}" if text else head)
        if note:
            lines.append(f"    {note}")
    return "\n".join(lines) + "\n"


def transcript_html(slice_: Slice) -> str:
    """Return the HTML transcript; every piece of archived text is escaped."""
    e = html.escape
    members = ", ".join(e(slice_.people[u].display) for u in slice_.usernames)
    rows = []
    for time, sender, what, text, note in _lines(slice_):
        css = what.split(" ")[0].replace("#", "")
        body = e(text).replace("\n", "<br>")
        if what.startswith("deleted"):
            body = "<em>(message deleted)</em>"
        rows.append(
            f'<tr class="{e(css)}"><td>{e(time)}</td><td>{e(sender)}</td>'
            f"<td>{e(what)}</td><td>{body}"
            + (f"<br><small>{e(note)}</small>" if note else "")
            + "</td></tr>"
        )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{e(transcript_heading(slice_))}</title></head><body>"
        f"<h1>{e(transcript_heading(slice_))}</h1><p>Participants: {members}</p>"
        "<table><thead><tr><th>Time (UTC)</th><th>Sender</th><th>Event</th><th>Text</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></body></html>\n"
    )
