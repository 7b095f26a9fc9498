"""EML: one RFC 5322 message per conversation and UTC day, a text + HTML transcript.

Deterministic: the Date is the slice's first event, the Message-ID is derived from the records'
hashes, and the MIME boundaries are derived from the same digest instead of being random, so
a rerun writes the same bytes. Boundaries start with "=_", which quoted-printable and base64
bodies can never contain.
"""

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from archiving.exports.transcript import (
    Slice,
    attachment_of,
    mail_address,
    transcript_heading,
    transcript_html,
    transcript_text,
)

GENERATOR = "Parley compliance export"
SMTP_POLICY = policy.SMTP.clone(max_line_length=78)


def message_id(slice_: Slice) -> str:
    return f"<{slice_.content_key[:40]}.c{slice_.conversation_id}@parley.archive>"


def _address(person) -> Address:
    local, _, domain = mail_address(person).rpartition("@")
    return Address(display_name=person.display, username=local, domain=domain)


def eml_message(slice_: Slice) -> EmailMessage:
    """Return the transcript message of a slice."""
    people = [slice_.people[u] for u in slice_.usernames]
    first = slice_.records[0]
    sender = slice_.people.get(first.actor_username) or people[0]
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = _address(sender)
    recipients = [p for p in people if p.username != sender.username]
    message["To"] = [_address(p) for p in recipients] or [_address(sender)]
    message["Subject"] = transcript_heading(slice_)
    message["Date"] = format_datetime(first.occurred_at, usegmt=True)
    message["Message-ID"] = message_id(slice_)
    message["X-Parley-Conversation"] = str(slice_.conversation_id)
    message["X-Parley-Conversation-Kind"] = slice_.kind
    message["X-Parley-Events"] = str(len(slice_.records))
    message["X-Parley-Chain-Range"] = f"{first.chain_index}-{slice_.records[-1].chain_index}"
    message["X-Mailer"] = GENERATOR
    message.set_content(transcript_text(slice_), cte="quoted-printable")
    message.add_alternative(transcript_html(slice_), subtype="html", cte="quoted-printable")
    for record in slice_.records:
        attachment = attachment_of(record)
        if attachment is not None:
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(
                attachment.data, maintype=maintype, subtype=subtype, filename=attachment.name
            )
    _fix_boundaries(message, slice_.content_key)
    return message


def _fix_boundaries(message: EmailMessage, key: str) -> None:
    for number, part in enumerate(message.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_parley_{number}_{key[:32]}")


def eml_render(slice_: Slice) -> bytes:
    """Return the bytes of a slice's transcript message (CRLF line ends, as RFC 5322 says)."""
    return eml_message(slice_).as_bytes(policy=SMTP_POLICY)
