"""RSMF 2.0.0 (Relativity Short Message Format): one .rsmf file per conversation and UTC day.

Follows Relativity's published RSMF 2.0 documentation and manifest schema
(rsmf_schema_2_0_0.json, github.com/relativitydev/rsmf-validator-samples): an RFC 5322 message
with the X-RSMF-* headers and an `rsmf.zip` attachment holding `rsmf_manifest.json` and the
attached files at its root. Mapping of the archive's events (one RSMF event per record, so the
event count is the record count):

- message.posted -> "message"; edits and deletes later in the same slice are also folded into
  it, as the spec represents them (`edits` with previous/new text, `deleted: true`);
- message.edited / message.deleted -> a "message" event of its own whose `parent` is the
  original message's event when that is in the slice (deleted ones carry `deleted: true`);
- participant.joined / left -> "join" / "leave" with the person who joined or left;
- conversation.created and any event this module does not know -> "unknown" with a readable
  body, or "message" with `attachments` when its payload names a stored file.

Every event carries custom fields naming the archive record and its chain hash, so a reviewer
can trace each event to the archive. Slices of one conversation share an eventcollectionid.
"""

import json
from email.message import EmailMessage

from archiving.exports import eml
from archiving.exports.manifest import zip_bytes
from archiving.exports.transcript import (
    Slice,
    attachment_of,
    describe,
    timestamp,
    transcript_text,
)
from archiving.models import ArchiveEvent

RSMF_VERSION = "2.0.0"
PLATFORM = "parley"


def _custom(record) -> list[dict]:
    return [
        {"name": "Parley event", "value": record.event},
        {"name": "Archive record", "value": f"{record.conversation_id}#{record.chain_index}"},
        {"name": "Record hash", "value": record.record_hash},
    ]


def rsmf_manifest(slice_: Slice) -> tuple[dict, dict[str, bytes]]:
    """Return the rsmf_manifest.json document of a slice and its attachment files."""
    conversation_id = f"C{slice_.conversation_id}"
    participants = []
    for username in slice_.usernames:
        person = slice_.people[username]
        entry = {"id": username, "display": person.display, "account_id": username}
        if person.email:
            entry["email"] = person.email
        participants.append(entry)
    events: list[dict] = []
    files: dict[str, bytes] = {}
    by_message: dict[int, dict] = {}  # message id -> its "message" event in this slice
    for record in slice_.records:
        event = {
            "id": f"e{record.chain_index}",
            "conversation": conversation_id,
            "timestamp": timestamp(record),
            "custom": _custom(record),
        }
        if record.actor_username:
            event["participant"] = record.actor_username
        original = by_message.get(record.message_id) if record.message_id else None
        match record.event:
            case ArchiveEvent.MESSAGE_POSTED:
                event.update(type="message", body=record.body)
                if record.message_id is not None:
                    by_message[record.message_id] = event
            case ArchiveEvent.MESSAGE_EDITED:
                event.update(type="message", body=record.body)
                if original is not None:
                    event["parent"] = original["id"]
                    edit = {"participant": record.actor_username, "timestamp": event["timestamp"]}
                    edit.update(previous=original.get("_text", original["body"]), new=record.body)
                    original.setdefault("edits", []).append(edit)
                    original["_text"] = record.body
            case ArchiveEvent.MESSAGE_DELETED:
                event.update(type="message", body="", deleted=True)
                if original is not None:
                    event["parent"] = original["id"]
                    original["deleted"] = True
            case ArchiveEvent.PARTICIPANT_JOINED | ArchiveEvent.PARTICIPANT_LEFT:
                kind = "join" if record.event == ArchiveEvent.PARTICIPANT_JOINED else "leave"
                person = (record.payload or {}).get("person") or record.actor_username
                event.update(type=kind, participant=person, body=describe(record, slice_.people)[1])
            case _:
                event.update(type="unknown", body=describe(record, slice_.people)[1])
                attachment = attachment_of(record)
                if attachment is not None:
                    file_id = f"{record.chain_index}-{attachment.name}"
                    files[file_id] = attachment.data
                    event.update(
                        type="message",
                        attachments=[
                            {
                                "id": file_id,
                                "display": attachment.name,
                                "size": len(attachment.data),
                            }
                        ],
                    )
        events.append(event)
    for event in events:
        event.pop("_text", None)
    document = {
        "version": RSMF_VERSION,
        "participants": participants,
        "conversations": [
            {
                "id": conversation_id,
                "display": slice_.title,
                "platform": PLATFORM,
                "type": "direct" if slice_.kind == "direct" else "channel",
                "participants": list(slice_.members) or slice_.usernames[:1],
                "custom": [
                    {"name": "Parley conversation", "value": str(slice_.conversation_id)},
                    {"name": "Kind", "value": slice_.kind},
                ],
            }
        ],
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
