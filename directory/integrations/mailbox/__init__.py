"""A person's mailbox, as Parley uses it: the Conversation History folder and a contacts folder.

Mailbox is the interface the services call; ews.ExchangeWebServicesMailbox implements it on
Exchange Server (2016/2019, on-premises) through EWS with exchangelib. A Microsoft Graph
implementation (Exchange Online, where EWS is being switched off) can follow behind the same
interface: every operation maps onto one Graph call (mailFolders, messages with MIME content,
contactFolders/contacts with @odata.etag playing the ChangeKey's part). mailbox_get() returns
the configured implementation, or None when none is.

Errors: MailboxUnavailableError is transient (throttled, busy, unreachable): the caller keeps
its state and tries again later. MailboxRefusedError is the server saying no (sign-in failed,
no impersonation right, no such mailbox): retrying at once will not help, so it is reported to
the person and the administrator and tried again at the next scheduled run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.conf import settings

# Where conversation history goes (the folder Lync and Skype for Business wrote to) and the
# contacts folder Parley keeps (Lync kept "Lync Contacts" under Contacts the same way).
CONVERSATION_HISTORY_FOLDER = "Conversation History"
CONTACTS_FOLDER = "Parley Contacts"


class MailboxError(Exception):
    """The mailbox server did not do what was asked."""


class MailboxUnavailableError(MailboxError):
    """Busy, throttled or unreachable for now: try again later, nothing was changed."""


class MailboxRefusedError(MailboxError):
    """The server refused (credentials, rights, unknown mailbox): an administrator must act."""


@dataclass(frozen=True)
class ContactFields:
    """What Parley writes on a contact in the mailbox; groups are the contact's categories."""

    display_name: str
    email: str
    given_name: str = ""
    surname: str = ""
    company: str = ""
    job_title: str = ""
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class MailboxContact:
    """A contact as the mailbox holds it; change_key changes whenever anyone edits it."""

    item_id: str
    change_key: str
    display_name: str = ""
    email: str = ""
    groups: tuple[str, ...] = ()
    last_modified: datetime | None = None


@dataclass(frozen=True)
class ItemVersion:
    item_id: str
    change_key: str


@dataclass
class FolderRef:
    """A folder found or created in one mailbox."""

    address: str
    folder_id: str
    created: bool = False
    extra: dict = field(default_factory=dict, repr=False)


class Mailbox(Protocol):
    """The mailbox operations Parley needs, whatever server holds the mailbox."""

    def folder_ensure(self, *, address: str, name: str, kind: str) -> FolderRef:
        """Return the folder of this name ("messages" under the top of the mailbox, "contacts"
        under Contacts), creating it when missing."""
        ...

    def message_find(self, *, folder: FolderRef, message_id: str) -> list[str]:
        """Return the ids of the items of the folder whose Internet Message-ID is this one."""
        ...

    def message_upload(self, *, folder: FolderRef, mime: bytes) -> str:
        """Store an RFC 5322 message (as read) in the folder; return its item id."""
        ...

    def items_delete(self, *, folder: FolderRef, item_ids: list[str]) -> None:
        """Delete these items (to Deleted Items); items already gone are not an error."""
        ...

    def contact_versions(self, *, folder: FolderRef) -> list[ItemVersion]:
        """Return the id and change key of every contact of the folder."""
        ...

    def contacts_get(self, *, folder: FolderRef, item_ids: list[str]) -> list[MailboxContact]:
        """Return these contacts with what Parley reads of them."""
        ...

    def contact_create(self, *, folder: FolderRef, fields: ContactFields) -> ItemVersion:
        """Create a contact in the folder."""
        ...

    def contact_update(
        self, *, folder: FolderRef, item: ItemVersion, fields: ContactFields
    ) -> ItemVersion:
        """Overwrite what Parley writes on an existing contact; return its new change key."""
        ...


def is_configured() -> bool:
    """Return whether a mailbox server is configured (EWS today)."""
    return bool(settings.PARLEY_EXCHANGE_EWS_URL)


def mailbox_get() -> Mailbox | None:
    """Return the configured mailbox implementation, or None when none is configured."""
    if not is_configured():
        return None
    from directory.integrations.mailbox.ews import ExchangeWebServicesMailbox

    return ExchangeWebServicesMailbox(
        url=settings.PARLEY_EXCHANGE_EWS_URL,
        username=settings.PARLEY_EXCHANGE_USERNAME,
        password=settings.PARLEY_EXCHANGE_PASSWORD,
    )
