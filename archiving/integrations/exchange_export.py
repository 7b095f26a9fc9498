"""Export to a mailbox on Exchange Server (on-premises) through EWS, with exchangelib.

Off unless PARLEY_EXPORT_EWS_URL, _USERNAME, _PASSWORD and PARLEY_EXPORT_MAILBOX are all set
(an export asking for it is refused with a 400 saying which is missing). Exchange Online is
retiring EWS; this targets Exchange Server 2016/2019 on-premises.

One folder per case ("Parley case 12") or per export ("Parley export 34") under the mailbox's
top of information store; one item per conversation-day, uploaded as the same RFC 5322
transcript as the EML export (CreateItem with its MIME content). Idempotent: the transcript's
Message-ID is derived from the hashes of its archive records, the folder's existing
InternetMessageIds are read once when the job (re)starts, and an item whose Message-ID is
already there is not created again, so a resumed or repeated export never duplicates items.
Requests name Exchange 2016 (no autodiscover, no version guessing): the EWS operations used are
GetFolder, FindFolder, CreateFolder, FindItem and CreateItem.
"""

import logging

from django.conf import settings

from archiving.exports import eml
from archiving.exports.transcript import Slice
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _

log = logging.getLogger(__name__)

REQUIRED = (
    "PARLEY_EXPORT_EWS_URL",
    "PARLEY_EXPORT_EWS_USERNAME",
    "PARLEY_EXPORT_EWS_PASSWORD",
    "PARLEY_EXPORT_MAILBOX",
)


def exchange_configuration_check() -> None:
    """Raise InvalidInput naming the missing settings unless the Exchange export is set up."""
    missing = [name for name in REQUIRED if not getattr(settings, name, "")]
    if missing:
        raise InvalidInput(
            _(
                "Export to Exchange is not configured on this server: set "
                "%(missing)s (EWS on Exchange Server on-premises), or choose rsmf "
                "or eml."
            )
            % {"missing": ", ".join(missing)},
            code="exchange_not_configured",
        )


def folder_name(job) -> str:
    scope = job.scope or {}
    if scope.get("kind") == "case":
        return f"Parley case {scope['case']}"
    return f"Parley export {job.pk}"


def _account():
    from exchangelib import BASIC, DELEGATE, Account, Build, Configuration, Credentials, Version

    config = Configuration(
        service_endpoint=settings.PARLEY_EXPORT_EWS_URL,
        credentials=Credentials(
            username=settings.PARLEY_EXPORT_EWS_USERNAME,
            password=settings.PARLEY_EXPORT_EWS_PASSWORD,
        ),
        auth_type=BASIC,
        version=Version(build=Build(15, 1)),
    )
    return Account(
        primary_smtp_address=settings.PARLEY_EXPORT_MAILBOX,
        config=config,
        autodiscover=False,
        access_type=DELEGATE,
    )


class ExchangeTransientError(Exception):
    """Exchange is unreachable or busy for now: the export is retried later, not failed."""


def _transient_errors() -> tuple[type[BaseException], ...]:
    import requests
    from exchangelib.errors import (
        ErrorInternalServerTransientError,
        ErrorServerBusy,
        ErrorTimeoutExpired,
        TransportError,
    )

    return (
        TransportError,
        ErrorServerBusy,
        ErrorTimeoutExpired,
        ErrorInternalServerTransientError,
        requests.ConnectionError,
        requests.Timeout,
    )


class ExchangeUploader:
    """Upload a job's transcripts into its folder; skip those the folder already holds."""

    def __init__(self, job) -> None:
        self.job = job
        self.name = folder_name(job)
        self.folder = None
        self.existing: set[str] = set()
        self.created = 0
        self.skipped = 0

    def open(self) -> None:
        try:
            self._open()
        except _transient_errors() as error:
            raise ExchangeTransientError(f"{type(error).__name__}: {error}") from error

    def _open(self) -> None:
        from exchangelib.errors import ErrorFolderNotFound
        from exchangelib.folders import Messages, MsgFolderRoot, Root
        from exchangelib.services import CreateFolder

        exchange_configuration_check()
        account = _account()
        root = Root.get_distinguished(account=account)
        parent = MsgFolderRoot.get_distinguished(root=root)
        try:
            self.folder = parent // self.name
        except ErrorFolderNotFound:
            # The service itself, not Folder.save(): save() then fills exchangelib's cache of
            # the whole folder tree (a GetFolder of ~30 well-known folders and a deep FindFolder).
            self.folder = CreateFolder(account=account).get(
                parent_folder=parent, folders=[Messages(parent=parent, name=self.name)]
            )
        self.existing = {
            mid for mid in self.folder.all().values_list("message_id", flat=True) if mid
        }

    def upload(self, slice_: Slice, data: bytes) -> None:
        from exchangelib import Message

        message_id = eml.message_id(slice_)
        if message_id in self.existing:
            self.skipped += 1
            return
        item = Message(
            account=self.folder.account, folder=self.folder, mime_content=data, is_read=True
        )
        try:
            item.save()
        except _transient_errors() as error:
            raise ExchangeTransientError(f"{type(error).__name__}: {error}") from error
        self.existing.add(message_id)
        self.created += 1

    def close(self) -> None:
        log.info(
            "export %s to Exchange folder %r: %d items created, %d already there",
            self.job.pk,
            self.name,
            self.created,
            self.skipped,
        )

    @staticmethod
    def is_transient(error: BaseException) -> bool:
        return isinstance(error, ExchangeTransientError)

    def summary(self) -> dict:
        return {"mailbox": settings.PARLEY_EXPORT_MAILBOX, "folder": self.name}
