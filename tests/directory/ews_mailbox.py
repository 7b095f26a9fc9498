"""A wire-level fake of people's Exchange mailboxes reached by impersonation: the export's
FakeMailbox (tests/archiving/test_export_exchange.py), extended with what Parley does in a
person's own mailbox: the Contacts folder, contact items (CreateItem, GetItem, UpdateItem),
FindItem restrictions on the Message-ID, DeleteItem, and the server's refusals (a wrong
password answered 401, ErrorServerBusy throttling). Requests are parsed as Exchange 2016 would
read them; anything it does not understand is collected in `unanswered`."""

import base64
import email
import http.server
import itertools
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email import policy
from xml.sax.saxutils import escape, quoteattr

from tests.archiving.test_export_exchange import (
    MAILBOX_ROOT_ID,
    ROOT_ID,
    FakeMailbox,
    T,
    _response,
    _success,
)
from tests.presence.test_calendar import INTERNAL_ERROR_FAULT, MESSAGES, SOAP, envelope

SERVICE_USER, SERVICE_PASSWORD = "CONTOSO\\svc-parley", "impersonating account"
CONTACTS_ID = "AAMkAD-contacts"
M = f"{{{MESSAGES}}}"
CONTACT_FIELDS = {
    "DisplayName": "display_name",
    "GivenName": "given_name",
    "Surname": "surname",
    "CompanyName": "company",
    "JobTitle": "job_title",
}
FIELD_URIS = {
    "contacts:DisplayName": "display_name",
    "contacts:GivenName": "given_name",
    "contacts:Surname": "surname",
    "contacts:CompanyName": "company",
    "contacts:JobTitle": "job_title",
    "item:Categories": "categories",
    "contacts:EmailAddress": "email",
}


def ews_now() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakePersonMailbox(FakeMailbox):
    """One person's mailbox, reached by the service account through ExchangeImpersonation."""

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address
        self.folders[CONTACTS_ID] = {"name": "Contacts", "parent": ROOT_ID}
        self.changes = itertools.count(1)
        self.requests: list[ET.Element] = []
        self.deleted: list[dict] = []
        self.wrong_password = False
        self.busy: dict[str, int] = {}  # operation -> how many more to answer ErrorServerBusy

    def _handler(self):
        fake = self
        expected = (
            "Basic " + base64.b64encode(f"{SERVICE_USER}:{SERVICE_PASSWORD}".encode()).decode()
        )

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if fake.wrong_password or self.headers.get("Authorization") != expected:
                    fake.operations.append("401")
                    return self._send(401, b"", {"WWW-Authenticate": 'Basic realm="mail"'})
                request = ET.fromstring(body)  # noqa: S314 - our own client's request
                impersonated = request.findtext(
                    f".//{T}ExchangeImpersonation//{T}PrimarySmtpAddress"
                )
                operation = request.find(f"{{{SOAP}}}Body")[0]
                name = operation.tag.split("}")[1]
                fake.operations.append(name)
                fake.requests.append(operation)
                handler = getattr(fake, name, None)
                if handler is None or impersonated != fake.address:
                    fake.unanswered.append(f"{name} as {impersonated}")
                    return self._send(500, envelope(INTERNAL_ERROR_FAULT))
                if fake.busy.get(name):
                    fake.busy[name] -= 1
                    return self._send(200, fake.server_busy(name))
                return self._send(200, handler(operation))

            def _send(self, status, payload, extra=()):
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for header, value in dict(extra).items():
                    self.send_header(header, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler

    @staticmethod
    def server_busy(operation: str) -> bytes:
        return _response(
            operation,
            f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>The server '
            "cannot service this request right now. Try again later.</m:MessageText>"
            "<m:ResponseCode>ErrorServerBusy</m:ResponseCode><m:DescriptiveLinkKey>0"
            '</m:DescriptiveLinkKey><m:MessageXml><t:Value Name="BackOffMilliseconds">'
            f"30000</t:Value></m:MessageXml></m:{operation}ResponseMessage>",
        )

    def _folder_id(self, element) -> str | None:
        distinguished = element.find(f".//{T}DistinguishedFolderId")
        if distinguished is not None and distinguished.get("Id") == "contacts":
            return CONTACTS_ID
        return super()._folder_id(element)

    def _folder_xml(self, folder_id: str) -> str:
        xml = super()._folder_xml(folder_id)
        if folder_id == CONTACTS_ID or self.folders[folder_id]["parent"] == CONTACTS_ID:
            xml = xml.replace("<t:Folder>", "<t:ContactsFolder>").replace(
                "</t:Folder>", "</t:ContactsFolder>"
            )
            xml = xml.replace("IPF.Note", "IPF.Contact")
        return xml

    def CreateFolder(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        answer = super().CreateFolder(operation)
        if operation.find(f".//{T}ContactsFolder") is not None:
            answer = answer.replace(b"<t:Folder>", b"<t:ContactsFolder>").replace(
                b"</t:Folder>", b"</t:ContactsFolder>"
            )
        return answer

    # -- items ----------------------------------------------------------------------------------

    def folder_named(self, name: str) -> str | None:
        return next((k for k, v in self.folders.items() if v["name"] == name), None)

    def items_in(self, name: str) -> list[dict]:
        return self.items.get(self.folder_named(name), [])

    def _new_change_key(self) -> str:
        return f"ck-{next(self.changes)}"

    def _item_xml(self, item: dict, *, full: bool) -> str:
        ids = f"<t:ItemId Id={quoteattr(item['id'])} ChangeKey={quoteattr(item['changekey'])}/>"
        if item["kind"] == "message":
            return (
                f"<t:Message>{ids}<t:InternetMessageId>{escape(item['message_id'])}"
                "</t:InternetMessageId></t:Message>"
            )
        if not full:
            return f"<t:Contact>{ids}</t:Contact>"
        categories = "".join(f"<t:String>{escape(c)}</t:String>" for c in item["categories"])
        return (
            f"<t:Contact>{ids}"
            + (f"<t:Categories>{categories}</t:Categories>" if categories else "")
            + f"<t:LastModifiedTime>{item['modified']}</t:LastModifiedTime>"
            + f"<t:DisplayName>{escape(item['display_name'])}</t:DisplayName>"
            + (
                f'<t:EmailAddresses><t:Entry Key="EmailAddress1">{escape(item["email"])}'
                "</t:Entry></t:EmailAddresses>"
                if item["email"]
                else ""
            )
            + "</t:Contact>"
        )

    def FindItem(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        folder_id = self._folder_id(operation.find(f"{M}ParentFolderIds"))
        items = self.items.get(folder_id, [])
        restriction = operation.find(f"{M}Restriction")
        if restriction is not None:
            equal = restriction.find(f"{T}IsEqualTo")
            uri = equal.find(f"{T}FieldURI").get("FieldURI") if equal is not None else None
            if uri != "message:InternetMessageId":
                self.unanswered.append(f"FindItem restriction {ET.tostring(restriction)!r}")
            value = equal.find(f".//{T}Constant").get("Value")
            items = [i for i in items if i.get("message_id") == value]
        inner = (
            f'<m:RootFolder IndexedPagingOffset="{len(items)}" TotalItemsInView="{len(items)}" '
            'IncludesLastItemInRange="true"><t:Items>'
            + "".join(self._item_xml(i, full=False) for i in items)
            + "</t:Items></m:RootFolder>"
        )
        return _response("FindItem", _success("FindItem", inner))

    def GetItem(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        items = {i["id"]: i for folder in self.items.values() for i in folder}
        answers = []
        for element in operation.iter(f"{T}ItemId"):
            item = items.get(element.get("Id"))
            if item is None:
                answers.append(self._item_not_found("GetItem"))
                continue
            answers.append(
                _success("GetItem", f"<m:Items>{self._item_xml(item, full=True)}</m:Items>")
            )
        return _response("GetItem", "".join(answers))

    @staticmethod
    def _item_not_found(operation: str) -> str:
        return (
            f'<m:{operation}ResponseMessage ResponseClass="Error"><m:MessageText>The specified '
            "object was not found in the store.</m:MessageText><m:ResponseCode>"
            "ErrorItemNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
            f"</m:{operation}ResponseMessage>"
        )

    @staticmethod
    def _contact_values(element) -> dict:
        values = {}
        for child in element:
            tag = child.tag.split("}")[1]
            if tag in CONTACT_FIELDS:
                values[CONTACT_FIELDS[tag]] = child.text or ""
            elif tag == "Categories":
                values["categories"] = [s.text for s in child.iter(f"{T}String")]
            elif tag == "EmailAddresses":
                entries = {e.get("Key"): e.text for e in child.iter(f"{T}Entry")}
                values["email"] = entries.get("EmailAddress1", "")
        return values

    def contact_put(self, *, folder: str = "Parley Contacts", **values) -> dict:
        """Add a contact as someone editing the mailbox in Outlook would."""
        item = {
            "kind": "contact",
            "id": f"AAMkAD-item-{next(self.ids)}",
            "changekey": self._new_change_key(),
            "modified": ews_now(),
            "display_name": "",
            "email": "",
            "categories": [],
            **values,
        }
        self.items.setdefault(self.folder_named(folder), []).append(item)
        return item

    def contact_edit(self, item: dict, **values) -> None:
        """Change a contact as Outlook would: a new change key, a new modification time."""
        item.update(values, changekey=self._new_change_key(), modified=ews_now())

    def CreateItem(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        folder_id = self._folder_id(operation.find(f"{M}SavedItemFolderId"))
        if operation.find(f".//{T}Contact") is None:
            messages_before = {i["id"] for i in self.items.get(folder_id, [])}
            answer = super().CreateItem(operation)
            for item in self.items.get(folder_id, []):
                if item["id"] not in messages_before:
                    item.update(kind="message", changekey=self._new_change_key())
            return answer
        answers = []
        for element in operation.iter(f"{T}Contact"):
            item = {
                "kind": "contact",
                "id": f"AAMkAD-item-{next(self.ids)}",
                "changekey": self._new_change_key(),
                "modified": ews_now(),
                "display_name": "",
                "email": "",
                "categories": [],
                "given_name": "",
                "surname": "",
                "company": "",
                "job_title": "",
                **self._contact_values(element),
            }
            self.items.setdefault(folder_id, []).append(item)
            answers.append(
                _success(
                    "CreateItem",
                    f"<m:Items>{self._item_xml(item, full=False)}</m:Items>",
                )
            )
        return _response("CreateItem", "".join(answers))

    def UpdateItem(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        items = {i["id"]: i for folder in self.items.values() for i in folder}
        answers = []
        for change in operation.iter(f"{T}ItemChange"):
            item = items.get(change.find(f"{T}ItemId").get("Id"))
            if item is None:
                answers.append(self._item_not_found("UpdateItem"))
                continue
            for update in change.find(f"{T}Updates"):
                kind = update.tag.split("}")[1]
                uri_element = update.find(f"{T}FieldURI")
                if uri_element is None:
                    uri_element = update.find(f"{T}IndexedFieldURI")
                field = FIELD_URIS.get(uri_element.get("FieldURI"))
                if uri_element.get("FieldIndex") not in (None, "EmailAddress1"):
                    continue  # the other addresses of the contact, which the fake does not hold
                if field is None:
                    self.unanswered.append(f"UpdateItem of {uri_element.get('FieldURI')}")
                    continue
                if kind == "DeleteItemField":
                    item[field] = [] if field == "categories" else ""
                else:
                    item.update(self._contact_values(update.find(f"{T}Contact")))
            item.update(changekey=self._new_change_key(), modified=ews_now())
            answers.append(
                f'<m:UpdateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
                f"</m:ResponseCode><m:Items>{self._item_xml(item, full=False)}</m:Items>"
                "<m:ConflictResults><t:Count>0</t:Count></m:ConflictResults>"
                "</m:UpdateItemResponseMessage>"
            )
        return _response("UpdateItem", "".join(answers))

    def DeleteItem(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        answers = []
        for element in operation.iter(f"{T}ItemId"):
            for folder_id, folder in self.items.items():
                found = [i for i in folder if i["id"] == element.get("Id")]
                if found:
                    folder.remove(found[0])
                    self.deleted.append(
                        {**found[0], "folder": folder_id, "how": operation.get("DeleteType")}
                    )
                    answers.append(
                        '<m:DeleteItemResponseMessage ResponseClass="Success">'
                        "<m:ResponseCode>NoError</m:ResponseCode></m:DeleteItemResponseMessage>"
                    )
                    break
            else:
                answers.append(self._item_not_found("DeleteItem"))
        return _response("DeleteItem", "".join(answers))

    def message_mime(self, item: dict) -> email.message.EmailMessage:
        return email.message_from_bytes(item["mime"], policy=policy.default)


__all__ = ["MAILBOX_ROOT_ID", "ROOT_ID", "FakePersonMailbox"]


def start_fake(settings, address: str) -> FakePersonMailbox:
    """Start a fake mailbox server for one address and point Parley's settings at it."""
    import threading

    fake = FakePersonMailbox(address)
    fake.thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    fake.thread.start()
    settings.PARLEY_EXCHANGE_EWS_URL = fake.url
    settings.PARLEY_EXCHANGE_USERNAME = SERVICE_USER
    settings.PARLEY_EXCHANGE_PASSWORD = SERVICE_PASSWORD
    return fake


def stop_fake(fake: FakePersonMailbox) -> None:
    from exchangelib.protocol import close_connections

    close_connections()
    fake.server.shutdown()
    fake.server.server_close()
    fake.thread.join(timeout=5)
