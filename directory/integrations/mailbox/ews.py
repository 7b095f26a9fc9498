"""The Mailbox interface on Exchange Server (2016/2019, on-premises) through EWS, with exchangelib.

The service account (PARLEY_EXCHANGE_USERNAME) acts in each person's mailbox by impersonation:
an Exchange administrator grants it the ApplicationImpersonation role, scoped to the people
Parley serves (New-ManagementRoleAssignment -Role ApplicationImpersonation -User svc-parley
-CustomRecipientWriteScope ...). Requests name Exchange 2016 (no autodiscover, no version
guessing). EWS operations used: GetFolder, FindFolder, CreateFolder, FindItem, GetItem,
CreateItem, UpdateItem, DeleteItem.

exchangelib fails fast (its default): a throttled or busy answer raises at once and the caller
decides when to try again, so a Celery worker is never held in exchangelib's own back-off.
"""

from __future__ import annotations

from directory.integrations.mailbox import (
    ContactFields,
    FolderRef,
    ItemVersion,
    MailboxContact,
    MailboxError,
    MailboxRefusedError,
    MailboxUnavailableError,
)

CONTACT_FIELDS = ["display_name", "email_addresses", "categories", "last_modified_time"]


def _transient_errors() -> tuple[type[BaseException], ...]:
    import requests
    from exchangelib import errors

    return (
        errors.TransportError,
        errors.ErrorServerBusy,
        errors.ErrorTimeoutExpired,
        errors.ErrorInternalServerTransientError,
        errors.ErrorMailboxStoreUnavailable,
        errors.ErrorConnectionFailed,
        errors.ErrorTooManyObjectsOpened,
        requests.ConnectionError,
        requests.Timeout,
    )


def _refusals() -> tuple[type[BaseException], ...]:
    from exchangelib import errors

    return (
        errors.UnauthorizedError,
        errors.ErrorAccessDenied,
        errors.ErrorImpersonateUserDenied,
        errors.ErrorImpersonationDenied,
        errors.ErrorImpersonationFailed,
        errors.ErrorNonExistentMailbox,
    )


class _Translated:
    """Turn exchangelib's errors into the interface's three kinds."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        if error is None or isinstance(error, MailboxError):
            return False
        from exchangelib.errors import EWSError

        text = f"{type(error).__name__}: {error}"
        if isinstance(error, _transient_errors()):
            raise MailboxUnavailableError(text) from error
        if isinstance(error, _refusals()):
            raise MailboxRefusedError(text) from error
        if isinstance(error, EWSError):
            raise MailboxError(text) from error
        return False


def _raise_first(results: list) -> None:
    for result in results:
        if isinstance(result, Exception):
            raise result


class ExchangeWebServicesMailbox:
    """Mailbox operations as EWS requests, one impersonated Account per mailbox."""

    def __init__(self, *, url: str, username: str, password: str) -> None:
        self.url = url
        self.username = username
        self.password = password

    def _account(self, address: str):
        from exchangelib import (
            BASIC,
            IMPERSONATION,
            Account,
            Build,
            Configuration,
            Credentials,
            Version,
        )

        config = Configuration(
            service_endpoint=self.url,
            credentials=Credentials(username=self.username, password=self.password),
            auth_type=BASIC,
            version=Version(build=Build(15, 1)),
        )
        return Account(
            primary_smtp_address=address,
            config=config,
            autodiscover=False,
            access_type=IMPERSONATION,
        )

    def folder_ensure(self, *, address: str, name: str, kind: str) -> FolderRef:
        from exchangelib.errors import ErrorFolderNotFound
        from exchangelib.folders import Contacts, Messages, MsgFolderRoot, Root
        from exchangelib.services import CreateFolder

        with _Translated():
            account = self._account(address)
            root = Root.get_distinguished(account=account)
            if kind == "contacts":
                parent, folder_class = Contacts.get_distinguished(root=root), Contacts
            else:
                parent, folder_class = MsgFolderRoot.get_distinguished(root=root), Messages
            created = False
            try:
                folder = parent // name
            except ErrorFolderNotFound:
                # The service itself, not Folder.save(): save() fills exchangelib's cache of the
                # whole folder tree first (a GetFolder of ~30 folders, a deep FindFolder).
                folder = CreateFolder(account=account).get(
                    parent_folder=parent, folders=[folder_class(parent=parent, name=name)]
                )
                created = True
        return FolderRef(
            address=address, folder_id=folder.id, created=created, extra={"folder": folder}
        )

    @staticmethod
    def _folder(folder: FolderRef):
        return folder.extra["folder"]

    def message_find(self, *, folder: FolderRef, message_id: str) -> list[str]:
        with _Translated():
            return list(
                self._folder(folder).filter(message_id=message_id).values_list("id", flat=True)
            )

    def message_upload(self, *, folder: FolderRef, mime: bytes) -> str:
        from exchangelib import Message

        exchange_folder = self._folder(folder)
        item = Message(
            account=exchange_folder.account, folder=exchange_folder, mime_content=mime, is_read=True
        )
        with _Translated():
            item.save()
        return item.id

    def items_delete(self, *, folder: FolderRef, item_ids: list[str]) -> None:
        from exchangelib.errors import ErrorItemNotFound
        from exchangelib.items import MOVE_TO_DELETED_ITEMS

        if not item_ids:
            return
        account = self._folder(folder).account
        with _Translated():
            results = account.bulk_delete(
                ids=[(item_id, None) for item_id in item_ids], delete_type=MOVE_TO_DELETED_ITEMS
            )
            _raise_first([r for r in results if not isinstance(r, ErrorItemNotFound)])

    def contact_versions(self, *, folder: FolderRef) -> list[ItemVersion]:
        with _Translated():
            return [
                ItemVersion(item_id=item_id, change_key=change_key)
                for item_id, change_key in self._folder(folder).all().values_list("id", "changekey")
            ]

    def contacts_get(self, *, folder: FolderRef, item_ids: list[str]) -> list[MailboxContact]:
        if not item_ids:
            return []
        exchange_folder = self._folder(folder)
        with _Translated():
            items = list(
                exchange_folder.account.fetch(
                    ids=[(item_id, None) for item_id in item_ids],
                    folder=exchange_folder,
                    only_fields=CONTACT_FIELDS,
                )
            )
            _raise_first(items)
        return [
            MailboxContact(
                item_id=item.id,
                change_key=item.changekey,
                display_name=item.display_name or "",
                email=next((e.email for e in item.email_addresses or [] if e.email), ""),
                groups=tuple(item.categories or ()),
                last_modified=item.last_modified_time,
            )
            for item in items
        ]

    def _contact(self, exchange_folder, fields: ContactFields, **ids):
        from exchangelib import Contact
        from exchangelib.indexed_properties import EmailAddress

        return Contact(
            account=exchange_folder.account,
            folder=exchange_folder,
            display_name=fields.display_name,
            given_name=fields.given_name or None,
            surname=fields.surname or None,
            company_name=fields.company or None,
            job_title=fields.job_title or None,
            email_addresses=[EmailAddress(email=fields.email, label="EmailAddress1")],
            categories=list(fields.groups) or None,
            **ids,
        )

    def contact_create(self, *, folder: FolderRef, fields: ContactFields) -> ItemVersion:
        item = self._contact(self._folder(folder), fields)
        with _Translated():
            item.save()
        return ItemVersion(item_id=item.id, change_key=item.changekey)

    def contact_update(
        self, *, folder: FolderRef, item: ItemVersion, fields: ContactFields
    ) -> ItemVersion:
        contact = self._contact(
            self._folder(folder), fields, id=item.item_id, changekey=item.change_key
        )
        with _Translated():
            contact.save(
                update_fields=[
                    "display_name",
                    "given_name",
                    "surname",
                    "company_name",
                    "job_title",
                    "email_addresses",
                    "categories",
                ]
            )
        return ItemVersion(item_id=contact.id, change_key=contact.changekey)
