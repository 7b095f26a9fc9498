"""Files posted into conversations: checked, stored, archived (Lync's FILEUPLOAD/FILEDOWNLOAD).

Design. An upload is refused before anything is stored unless the person may post in the
conversation, the room's category allows files, the size is within PARLEY_FILE_MAX_BYTES, the
declared content type is on the allow-list and the bytes look like that type (executables
never do). The blob goes to Django's default storage under its SHA-256, then one transaction
stores the File row, a message referring to it and the `file.uploaded` archive record (name,
size, SHA-256, type, storage path): the archive and its exports can always fetch the bytes, so
a blob is never deleted when its message is. If the transaction fails, the orphan blob is
removed unless another File row holds the same content.
"""

import hashlib
import re
import unicodedata
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from archiving.models import ArchiveEvent
from chat.models import Conversation, File, Message
from chat.selectors import message_get_visible, participation_get
from chat.services.messages import _capture, message_post, posting_check
from directory.exceptions import Forbidden, InvalidInput, NotFound, ServiceError
from directory.exceptions import sentence_gettext as _
from directory.models import Person


class PayloadTooLarge(ServiceError):
    status = 413
    code = "file_too_large"


TEXT_TYPES = {"text/plain", "text/csv", "text/markdown", "application/json"}
ZIP = b"PK\x03\x04"
# Declared type -> the magic numbers its bytes must start with (empty: text, checked apart).
ALLOWED_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/zip": (ZIP,),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (ZIP,),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (ZIP,),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (ZIP,),
    **dict.fromkeys(TEXT_TYPES, ()),
}
EXECUTABLE_MAGIC = (
    b"MZ",
    b"\x7fELF",
    b"#!",
    b"\xfe\xed\xfa",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)
EXECUTABLE_SUFFIXES = {
    "exe", "dll", "com", "bat", "cmd", "msi", "scr", "ps1", "vbs", "js", "jar", "sh", "apk", "app",
}  # fmt: skip
_UNSAFE = re.compile(r"[^\w.\- ()]+", re.UNICODE)


def file_size_limit() -> int:
    """Return the largest file, in bytes, that may be posted."""
    return settings.PARLEY_FILE_MAX_BYTES


def file_name_sanitise(name: str) -> str:
    """Return a safe display name: no path, no control or shell characters, at most 255."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name:
        name = "file"
    if len(name) > 255:
        stem, dot, suffix = name.rpartition(".")
        name = (
            (stem[: 254 - len(suffix)] + dot + suffix) if dot and len(suffix) < 10 else name[:255]
        )
    return name


def _content_check(*, data: bytes, content_type: str, name: str) -> None:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if data.startswith(EXECUTABLE_MAGIC) or suffix in EXECUTABLE_SUFFIXES:
        raise InvalidInput(_("Executable files and scripts cannot be posted."), code="file_refused")
    if content_type not in ALLOWED_TYPES:
        raise InvalidInput(
            _("Files of type %(value)s cannot be posted; allowed: %(ALLOWED_TYPES)s.")
            % {
                "value": content_type or "unknown",
                "ALLOWED_TYPES": ", ".join(sorted(ALLOWED_TYPES)),
            },
            code="file_type_not_allowed",
        )
    magic = ALLOWED_TYPES[content_type]
    if magic:
        is_match = data.startswith(magic) and (
            content_type != "image/webp" or data[8:12] == b"WEBP"
        )
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            is_match = False
        else:
            is_match = b"\x00" not in data
    if not is_match:
        raise InvalidInput(
            _("The file's contents are not %(content_type)s; send it with its real type.")
            % {"content_type": content_type},
            code="file_type_mismatch",
        )


def file_post(
    *, uploader: Person, conversation_id: int, name: str, content_type: str, data: bytes
) -> Message:
    """Store a file and a message referring to it; archive the upload; broadcast after commit."""
    participation = participation_get(person_id=uploader.pk, conversation_id=conversation_id)
    conversation = participation.conversation
    posting_check(conversation=conversation, participation=participation)
    if conversation.category_id is not None and not conversation.category.allows_files:
        raise Forbidden(
            _("The category %(category)s does not allow files.")
            % {"category": conversation.category},
            code="files_disabled",
        )
    limit = file_size_limit()
    if len(data) > limit:
        raise PayloadTooLarge(
            _("The file is %(data)s bytes; the limit is %(limit)s bytes.")
            % {"data": len(data), "limit": limit},
            code="file_too_large",
        )
    if not data:
        raise InvalidInput(_("The file is empty."), code="file_empty")
    name = file_name_sanitise(name)
    content_type = (content_type or "").split(";", 1)[0].strip().lower()
    _content_check(data=data, content_type=content_type, name=name)
    sha256 = hashlib.sha256(data).hexdigest()
    stored = File(sha256=sha256)
    path = stored.blob.field.generate_filename(stored, name)
    is_new_blob = not default_storage.exists(path)
    if is_new_blob:
        path = default_storage.save(path, ContentFile(data))
    try:
        with transaction.atomic():
            file = File.objects.create(
                conversation=conversation,
                uploader=uploader,
                name=name,
                content_type=content_type,
                size=len(data),
                sha256=sha256,
                blob=path,
            )
            message, _created = message_post(
                sender=uploader,
                conversation_id=conversation.pk,
                body=f"\N{PAPERCLIP} {name}",
                client_id=f"file-{uuid.uuid4().hex}",
                file=file,
            )
            _capture(
                conversation,
                event=ArchiveEvent.FILE_UPLOADED,
                actor=uploader,
                occurred_at=file.created_at,
                message=message,
                payload={
                    "file": file.pk,
                    "name": name,
                    "size": len(data),
                    "sha256": sha256,
                    "content_type": content_type,
                    "storage_path": path,
                },
            )
    except Exception:
        if is_new_blob and not File.objects.filter(blob=path).exists():
            default_storage.delete(path)
        raise
    return message


@transaction.atomic
def file_download(*, person: Person, file_id: int) -> File:
    """Return a file the person may read (its message visible to them), archiving the read."""
    file = File.objects.filter(pk=file_id).first()
    message = Message.objects.filter(file_id=file_id).only("pk").first() if file else None
    if message is None:
        raise NotFound(
            _("File %(file_id)s does not exist.") % {"file_id": file_id}, code="file_not_found"
        )
    try:
        message, _participation = message_get_visible(person_id=person.pk, message_id=message.pk)
    except NotFound:
        raise NotFound(
            _("File %(file_id)s does not exist.") % {"file_id": file_id}, code="file_not_found"
        ) from None
    if message.is_deleted:
        raise NotFound(
            _("File %(file_id)s was deleted with its message.") % {"file_id": file_id},
            code="file_not_found",
        )
    conversation = Conversation.objects.select_for_update().get(pk=file.conversation_id)
    _capture(
        conversation,
        event=ArchiveEvent.FILE_DOWNLOADED,
        actor=person,
        occurred_at=timezone.now(),
        message=message,
        payload={"file": file.pk, "name": file.name, "sha256": file.sha256},
    )
    return file
