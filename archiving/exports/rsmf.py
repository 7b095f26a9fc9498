"""RSMF 2.0.0 (Relativity Short Message Format): one .rsmf file per conversation and UTC day.

Follows Relativity's published RSMF 2.0 documentation and manifest schema
(rsmf_schema_2_0_0.json, github.com/relativitydev/rsmf-validator-samples): an RFC 5322 message
with the X-RSMF-* headers and an `rsmf.zip` attachment holding `rsmf_manifest.json` and the
attached files at its root. Each record is put into words by archiving/events.py, which also
names its RSMF type:

- message.posted -> "message"; edits, deletions and removals by a manager later in the same
  slice are folded into it as the spec represents them (`edits` with previous/new text,
  `deleted: true`), and each also stays an event of its own whose `parent` is the original,
  so every record can be traced (the record hash is in the event's `custom` fields);
- file.uploaded -> the `attachments` of its message's event (the file once, not a second
  event), or a message event of its own when that message is not in the slice;
- participant.joined / left and conversation.created -> "join" / "leave" with the person who
  joined or left as the event's participant; history.viewed -> "history";
- invitations, role and room changes, downloads, delivery errors -> "disclaimer" (a notice
  in the conversation, attributed to its actor), the details in `custom` fields;
- a kind the vocabulary does not know -> "unknown", still in words.

`participants` lists everyone who took part in the slice (members at its start, actors and the
people events name) with display name, e-mail and account id; custodians of the export carry
the custom field Custodian = yes. Slices of one conversation share an eventcollectionid.
"""

import json
from email.message import EmailMessage

from archiving.events import EventDescription
from archiving.exports import eml
from archiving.exports.manifest import zip_bytes
from archiving.exports.transcript import (
    Slice,
    attachment_of,
    slice_descriptions,
    slice_names,
    timestamp,
    transcript_text,
)
from archiving.models import ArchiveEvent

RSMF_VERSION = "2.0.0"
PLATFORM = "parley"
_FOLDED_CHANGES = {
    ArchiveEvent.MESSAGE_EDITED,
    ArchiveEvent.MESSAGE_DELETED,
    ArchiveEvent.MESSAGE_REMOVED_BY_MANAGER,
}


def _fields(pairs) -> list[dict]:
    return [{"name": name, "value": str(value)} for name, value in pairs if str(value or "")]


def _custom(record, description: EventDescription) -> list[dict]:
    return _fields(
        [
            ("Parley event", record.event),
            ("Description", description.statement(with_text=False)),
            ("Archive record", f"conversation {record.conversation_id}, link {record.chain_index}"),
            ("Record hash", record.record_hash),
            # Sentences refer to messages by number ("removed message #3"): say which is which.
            ("Message number", f"#{record.message_seq}" if record.message_seq is not None else ""),
            *description.details,
        ]
    )


def _participant(slice_: Slice, username: str) -> dict:
    person = slice_.people[username]
    entry = {"id": username, "display": person.display, "account_id": username}
    if person.email:
        entry["email"] = person.email
    if username in slice_.custodians:
        entry["custom"] = [{"name": "Custodian", "value": "yes"}]
    return entry


def _attach(event: dict, record, files: dict[str, bytes]) -> None:
    attachment = attachment_of(record)
    if attachment is None:
        return
    file_id = f"{record.chain_index}-{attachment.name}"
    files[file_id] = attachment.data
    event.setdefault("attachments", []).append(
        {"id": file_id, "display": attachment.name, "size": len(attachment.data)}
    )


def rsmf_manifest(slice_: Slice) -> tuple[dict, dict[str, bytes]]:
    """Return the rsmf_manifest.json document of a slice and its attachment files."""
    conversation_id = f"C{slice_.conversation_id}"
    names = slice_names(slice_)
    events: list[dict] = []
    files: dict[str, bytes] = {}
    by_message: dict[int, dict] = {}  # message id -> its "message" event in this slice
    texts: dict[int, str] = {}  # message id -> its text as of the record being read
    for record, described in zip(slice_.records, slice_descriptions(slice_), strict=True):
        original = by_message.get(record.message_id) if record.message_id else None
        if record.event == ArchiveEvent.FILE_UPLOADED and original is not None:
            _attach(original, record, files)
            original["custom"].extend(
                _fields([("Upload record hash", record.record_hash), *described.details])
            )
            continue
        event = {
            "id": f"e{record.chain_index}",
            "type": described.rsmf_type,
            "conversation": conversation_id,
            "timestamp": timestamp(record),
            "custom": _custom(record, described),
        }
        participant = described.subject if described.rsmf_type in ("join", "leave") else ""
        participant = participant or record.actor_username
        if participant:
            event["participant"] = participant
        if record.event == ArchiveEvent.MESSAGE_POSTED:
            event["body"] = record.body
            if record.message_id is not None:
                by_message[record.message_id] = event
                texts[record.message_id] = record.body
        elif record.event in _FOLDED_CHANGES:
            is_edit = record.event == ArchiveEvent.MESSAGE_EDITED
            if original is not None:
                event["parent"] = original["id"]
                if is_edit:
                    original.setdefault("edits", []).append(
                        {
                            "participant": record.actor_username,
                            "timestamp": event["timestamp"],
                            "previous": texts.get(record.message_id, original["body"]),
                            "new": record.body,
                        }
                    )
                    texts[record.message_id] = record.body
                else:
                    original["deleted"] = True
            if is_edit:
                event["body"] = record.body
            else:
                # The removed message itself is marked deleted (above); this event is the notice
                # of who removed it, deleted only when it stands in for a message not here.
                if original is None:
                    event["deleted"] = True
                # The original above already shows the text; quote it only when it is not here.
                event["body"] = described.statement(with_text=original is None)
        elif record.event == ArchiveEvent.FILE_UPLOADED:
            event["body"] = described.statement()
            _attach(event, record, files)
        else:
            event["body"] = described.statement()
        events.append(event)
    usernames = slice_.usernames
    custodians = [u for u in usernames if u in slice_.custodians]
    conversation = {
        "id": conversation_id,
        "display": slice_.title,
        "platform": PLATFORM,
        "type": "direct" if slice_.kind == "direct" else "channel",
        "participants": usernames,
        "custom": _fields(
            [
                ("Parley conversation", str(slice_.conversation_id)),
                ("Kind", slice_.kind),
                ("Custodians", ", ".join(names(u) for u in custodians)),
            ]
        ),
    }
    if custodians:
        conversation["custodian"] = custodians[0]
    document = {
        "version": RSMF_VERSION,
        "participants": [_participant(slice_, u) for u in usernames],
        "conversations": [conversation],
        "events": events,
        "eventcollectionid": f"parley-conversation-{slice_.conversation_id}",
    }
    return document, files


def rsmf_render(slice_: Slice) -> bytes:
    """Return the .rsmf file of a slice (an RFC 5322 message with an rsmf.zip attachment)."""
    document, files = rsmf_manifest(slice_)
    manifest = json.dumps(document, sort_keys=True, indent=1, ensure_ascii=False).encode()
    package = zip_bytes({"rsmf_manifest.json": manifest, **files})
    source = eml.eml_message(slice_)
    message = EmailMessage(policy=eml.SMTP_POLICY)
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        message[header] = source[header]
    first, last = slice_.records[0], slice_.records[-1]
    message["X-RSMF-Version"] = RSMF_VERSION
    message["X-RSMF-Generator"] = "Parley compliance export"
    message["X-RSMF-Application"] = "Parley"
    message["X-RSMF-BeginDate"] = timestamp(first)
    message["X-RSMF-EndDate"] = timestamp(last)
    message["X-RSMF-EventCount"] = str(len(document["events"]))
    message["X-RSMF-AttachmentCount"] = str(len(files))
    message["X-RSMF-Participants"] = ", ".join(p["display"] for p in document["participants"])
    message["X-RSMF-EventCollectionID"] = document["eventcollectionid"]
    message.set_content(transcript_text(slice_), cte="quoted-printable")
    message.add_attachment(package, maintype="application", subtype="zip", filename="rsmf.zip")
    for number, part in enumerate(message.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_rsmf_{number}_{slice_.content_key[:32]}")
    return message.as_bytes(policy=eml.SMTP_POLICY)
