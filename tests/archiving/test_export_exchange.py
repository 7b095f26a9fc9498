"""Export to an Exchange mailbox against a wire-level EWS fake: a local HTTP server answering
the SOAP operations exchangelib really sends (GetFolder, FindFolder, CreateFolder, FindItem,
CreateItem) as Exchange 2016 does, so the real client library is exercised end to end."""

import base64
import email
import http.server
import itertools
import threading
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email import policy
from xml.sax.saxutils import escape, quoteattr

import pytest
from exchangelib.protocol import close_connections

from archiving import tasks
from archiving.exports import runner
from archiving.models import AuditEntry, ExportJob
from tests.archiving.export_data import conversation_fill
from tests.presence.test_calendar import INTERNAL_ERROR_FAULT, MESSAGES, SOAP, TYPES, envelope

pytestmark = pytest.mark.django_db

USER, PASSWORD, MAILBOX = "CONTOSO\\svc-parley-export", "export account", "legal-hold@contoso.test"
DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
T = f"{{{TYPES}}}"
ROOT_ID = "AAMkAD-msgfolderroot"
MAILBOX_ROOT_ID = "AAMkAD-root"


def _response(operation: str, messages: str) -> bytes:
    return envelope(
        f'<m:{operation}Response xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><m:ResponseMessages>'
        f"{messages}</m:ResponseMessages></m:{operation}Response>"
    )


def _success(operation: str, inner: str) -> str:
    return (
        f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError'
        f"</m:ResponseCode>{inner}</m:{operation}ResponseMessage>"
    )


class FakeMailbox:
    """One mailbox: its folders and items, and what the client asked, at the wire."""

    def __init__(self) -> None:
        self.folders = {
            MAILBOX_ROOT_ID: {"name": "", "parent": None},
            ROOT_ID: {"name": "Top of Information Store", "parent": MAILBOX_ROOT_ID},
        }
        self.items: dict[str, list[dict]] = {}
        self.operations: list[str] = []
        self.unanswered: list[str] = []
        self.ids = itertools.count(1)
        self.busy_answers = 0  # answer this many CreateItem requests with ErrorServerBusy
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        server.daemon_threads = True
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_port}/EWS/Exchange.asmx"

    def _handler(self):
        fake = self
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Authorization") != expected:
                    fake.unanswered.append("unauthenticated request")
                    return self._send(401, b"", {"WWW-Authenticate": "Basic"})
                request = ET.fromstring(body)  # noqa: S314 - our own client's request
                mailbox = request.find(f".//{T}ExchangeImpersonation") is None and [
                    e.text for e in request.iter(f"{T}EmailAddress")
                ]
                operation = request.find(f"{{{SOAP}}}Body")[0]
                name = operation.tag.split("}")[1]
                fake.operations.append(name)
                handler = getattr(fake, name, None)
                if handler is None or (mailbox and set(mailbox) != {MAILBOX}):
                    fake.unanswered.append(f"{name} {mailbox}")
                    return self._send(500, envelope(INTERNAL_ERROR_FAULT))
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

    def _folder_xml(self, folder_id: str) -> str:
        folder = self.folders[folder_id]
        parent = folder["parent"] or folder_id
        return (
            f'<t:Folder><t:FolderId Id="{folder_id}" ChangeKey="ck-{folder_id}"/>'
            f'<t:ParentFolderId Id="{parent}" ChangeKey="ck-{parent}"/>'
            f"<t:FolderClass>IPF.Note</t:FolderClass>"
            f"<t:DisplayName>{escape(folder['name'])}</t:DisplayName>"
            f"<t:TotalCount>{len(self.items.get(folder_id, []))}</t:TotalCount>"
            f"<t:ChildFolderCount>0</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount>"
            "</t:Folder>"
        )

    def _folder_id(self, element) -> str | None:
        distinguished = element.find(f".//{T}DistinguishedFolderId")
        if distinguished is not None:
            return {"msgfolderroot": ROOT_ID, "root": MAILBOX_ROOT_ID}.get(distinguished.get("Id"))
        folder = element.find(f".//{T}FolderId")
        return folder.get("Id") if folder is not None and folder.get("Id") in self.folders else None

    def GetFolder(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        folder_id = self._folder_id(operation.find(f"{{{MESSAGES}}}FolderIds"))
        if folder_id is None:
            self.unanswered.append(
                f"GetFolder of an unknown folder {ET.tostring(operation)[-400:]}"
            )
        inner = f"<m:Folders>{self._folder_xml(folder_id or ROOT_ID)}</m:Folders>"
        return _response("GetFolder", _success("GetFolder", inner))

    def FindFolder(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        parent = self._folder_id(operation.find(f"{{{MESSAGES}}}ParentFolderIds"))
        wanted = [c.get("Value") for c in operation.iter(f"{T}Constant")]
        found = [
            folder_id
            for folder_id, folder in self.folders.items()
            if folder["parent"] == parent
            and (not wanted or folder["name"].lower() == wanted[0].lower())
        ]
        inner = (
            f'<m:RootFolder IndexedPagingOffset="{len(found)}" TotalItemsInView="{len(found)}" '
            f'IncludesLastItemInRange="true"><t:Folders>'
            + "".join(self._folder_xml(f) for f in found)
            + "</t:Folders></m:RootFolder>"
        )
        return _response("FindFolder", _success("FindFolder", inner))

    def CreateFolder(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        parent = self._folder_id(operation.find(f"{{{MESSAGES}}}ParentFolderId"))
        name = operation.find(f".//{T}DisplayName").text
        folder_id = f"AAMkAD-folder-{next(self.ids)}"
        self.folders[folder_id] = {"name": name, "parent": parent}
        self.items[folder_id] = []
        inner = (
            f'<m:Folders><t:Folder><t:FolderId Id="{folder_id}" ChangeKey="ck-{folder_id}"/>'
            "</t:Folder></m:Folders>"
        )
        return _response("CreateFolder", _success("CreateFolder", inner))

    def FindItem(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        folder_id = self._folder_id(operation.find(f"{{{MESSAGES}}}ParentFolderIds"))
        view = operation.find(f"{{{MESSAGES}}}IndexedPageItemView")
        offset = int(view.get("Offset", "0")) if view is not None else 0
        size = int(view.get("MaxEntriesReturned", "1000")) if view is not None else 1000
        items = self.items.get(folder_id, [])
        page = items[offset : offset + size]
        last = offset + len(page) >= len(items)
        inner = (
            f'<m:RootFolder IndexedPagingOffset="{offset + len(page)}" '
            f'TotalItemsInView="{len(items)}" IncludesLastItemInRange="{str(last).lower()}">'
            "<t:Items>"
            + "".join(
                f'<t:Message><t:ItemId Id="{i["id"]}" ChangeKey="ck"/>'
                f"<t:InternetMessageId>{escape(i['message_id'])}</t:InternetMessageId>"
                "</t:Message>"
                for i in page
            )
            + "</t:Items></m:RootFolder>"
        )
        return _response("FindItem", _success("FindItem", inner))

    def GetItem(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        wanted = [e.get("Id") for e in operation.iter(f"{T}ItemId")]
        items = {i["id"]: i for folder in self.items.values() for i in folder}
        answers = []
        for item_id in wanted:
            item = items.get(item_id)
            if item is None:
                self.unanswered.append(f"GetItem of an unknown item {item_id}")
                continue
            answers.append(
                _success(
                    "GetItem",
                    f'<m:Items><t:Message><t:ItemId Id="{item_id}" ChangeKey="ck"/>'
                    f"<t:InternetMessageId>{escape(item['message_id'])}</t:InternetMessageId>"
                    "</t:Message></m:Items>",
                )
            )
        return _response("GetItem", "".join(answers))

    def CreateItem(self, operation) -> bytes:  # noqa: N802 - the EWS operation name
        if self.busy_answers:
            self.busy_answers -= 1
            return _response(
                "CreateItem",
                '<m:CreateItemResponseMessage ResponseClass="Error"><m:MessageText>The server '
                "cannot service this request right now. Try again later.</m:MessageText>"
                "<m:ResponseCode>ErrorServerBusy</m:ResponseCode><m:DescriptiveLinkKey>0"
                "</m:DescriptiveLinkKey><m:Items/></m:CreateItemResponseMessage>",
            )
        folder_id = self._folder_id(operation.find(f"{{{MESSAGES}}}SavedItemFolderId"))
        answers = []
        for message in operation.iter(f"{T}Message"):
            mime = base64.b64decode(message.find(f"{T}MimeContent").text)
            parsed = email.message_from_bytes(mime, policy=policy.default)
            item_id = f"AAMkAD-item-{next(self.ids)}"
            self.items.setdefault(folder_id, []).append(
                {
                    "id": item_id,
                    "message_id": parsed["Message-ID"],
                    "subject": parsed["Subject"],
                    "mime": mime,
                    "disposition": operation.get("MessageDisposition"),
                    "is_read": message.findtext(f"{T}IsRead"),
                }
            )
            answers.append(
                _success(
                    "CreateItem",
                    f'<m:Items><t:Message><t:ItemId Id={quoteattr(item_id)} ChangeKey="ck"/>'
                    "</t:Message></m:Items>",
                )
            )
        return _response("CreateItem", "".join(answers))


@pytest.fixture
def mailbox(settings):
    fake = FakeMailbox()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.PARLEY_EXPORT_EWS_URL = fake.url
    settings.PARLEY_EXPORT_EWS_USERNAME = USER
    settings.PARLEY_EXPORT_EWS_PASSWORD = PASSWORD
    settings.PARLEY_EXPORT_MAILBOX = MAILBOX
    yield fake
    close_connections()
    fake.server.shutdown()
    fake.server.server_close()
    thread.join(timeout=5)
    assert fake.unanswered == []


@pytest.fixture
def export(officer_client, django_capture_on_commit_callbacks):
    def start(search: dict) -> ExportJob:
        with django_capture_on_commit_callbacks(execute=True):
            response = officer_client.post(
                "/api/v1/archive/exports/", {"format": "exchange", "search": search}, format="json"
            )
        assert response.status_code == 202, response.json()
        return ExportJob.objects.get(pk=response.json()["id"])

    return start


def test_exchange_export_creates_a_folder_and_one_item_per_conversation_day(mailbox, export):
    conversation_fill(
        31,
        kind="room",
        members=["alice", "bob"],
        start=DAY1,
        count=3,
        step_seconds=12 * 3600,
        title="Desk <A>",
    )

    job = export({"conversations": [31]})

    assert job.status == "completed", job.error
    # root, top of information store, look for the folder, create it, list its items, upload
    assert mailbox.operations == [
        "GetFolder",
        "GetFolder",
        "FindFolder",
        "CreateFolder",
        "GetFolder",
        "FindItem",
        "CreateItem",
        "CreateItem",
    ]
    [(folder_id, folder)] = [
        (k, v) for k, v in mailbox.folders.items() if k not in {ROOT_ID, MAILBOX_ROOT_ID}
    ]
    assert folder == {"name": f"Parley export {job.pk}", "parent": ROOT_ID}
    items = mailbox.items[folder_id]
    assert [i["subject"] for i in items] == [
        "Desk <A> - 2026-11-02 (UTC)",
        "Desk <A> - 2026-11-03 (UTC)",
    ]
    assert {(i["disposition"], i["is_read"]) for i in items} == {("SaveOnly", "1")}  # xs:boolean
    files = runner.job_directory(job)
    assert [i["mime"] for i in items] == [
        (files / f["path"]).read_bytes() for f in job.files.order_by("path").values()
    ]
    manifest = (files / "manifest.json").read_text()
    assert f'"folder": "Parley export {job.pk}"' in manifest
    assert f'"mailbox": "{MAILBOX}"' in manifest


def test_a_rerun_finds_the_folder_and_does_not_duplicate_items(mailbox, export):
    conversation_fill(
        32, kind="room", members=["alice", "bob"], start=DAY1, count=3, step_seconds=12 * 3600
    )
    job = export({"conversations": [32]})
    assert job.status == "completed", job.error
    before = {k: list(v) for k, v in mailbox.items.items()}
    mailbox.operations.clear()
    runner.export_files_remove(job=job)
    ExportJob.objects.filter(pk=job.pk).update(status="queued", state={}, records_done=0)

    assert runner.export_run(job_id=job.pk) == "completed"

    # the folder is found, its items listed (FindItem, then GetItem for their Message-IDs)
    assert mailbox.operations == [
        "GetFolder",
        "GetFolder",
        "FindFolder",
        "GetFolder",
        "GetFolder",
        "FindItem",
        "GetItem",
    ]
    assert mailbox.items == before
    assert len(mailbox.folders) == 3


def test_exchange_export_is_refused_when_not_configured(officer_client, settings):
    settings.PARLEY_EXPORT_EWS_URL = "https://mail.contoso.test/EWS/Exchange.asmx"
    settings.PARLEY_EXPORT_MAILBOX = ""

    response = officer_client.post(
        "/api/v1/archive/exports/",
        {"format": "exchange", "search": {"kinds": ["room"]}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "exchange_not_configured",
        "detail": "Export to Exchange is not configured on this server: set "
        "PARLEY_EXPORT_EWS_USERNAME, PARLEY_EXPORT_EWS_PASSWORD, PARLEY_EXPORT_MAILBOX (EWS on "
        "Exchange Server on-premises), or choose rsmf or eml.",
    }
    assert ExportJob.objects.count() == 0
    assert AuditEntry.objects.count() == 0


@pytest.fixture
def queued(officer_client, settings):
    """Create an export job left queued, and run its task as a worker would (retries apply
    at once instead of after their countdown)."""

    def create(search: dict) -> ExportJob:
        response = officer_client.post(
            "/api/v1/archive/exports/", {"format": "exchange", "search": search}, format="json"
        )
        assert response.status_code == 202, response.json()
        return ExportJob.objects.get(pk=response.json()["id"])

    return create


def test_a_busy_exchange_is_retried_not_failed_and_nothing_is_duplicated(mailbox, queued, settings):
    conversation_fill(
        33, kind="room", members=["alice", "bob"], start=DAY1, count=3, step_seconds=12 * 3600
    )
    job = queued({"conversations": [33]})
    mailbox.busy_answers = 1
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a worker: the task can be retried

    tasks.export_run.apply(args=[job.pk], throw=False)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("completed", 2, "")
    [items] = [v for v in mailbox.items.values() if v]
    assert [i["subject"] for i in items] == [
        "Room with alice and bob - 2026-11-02 (UTC)",
        "Room with alice and bob - 2026-11-03 (UTC)",
    ]
    assert mailbox.operations.count("CreateFolder") == 1
    assert mailbox.operations.count("CreateItem") == 3


def test_an_exchange_that_stays_busy_fails_the_job_after_the_retries(
    mailbox, queued, settings, monkeypatch
):
    conversation_fill(34, kind="room", members=["alice"], start=DAY1, count=1)
    job = queued({"conversations": [34]})
    mailbox.busy_answers = 100
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # Celery applies each retry with the app's propagate setting: keep them all in process.
    monkeypatch.setitem(tasks.export_run.app.conf, "task_eager_propagates", False)

    tasks.export_run.apply(args=[job.pk], throw=False)

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("gave up after 5 retries: ErrorServerBusy: The server cannot")
    assert job.attempts == 6
    assert mailbox.operations.count("CreateItem") == 6


def test_in_process_tasks_fail_at_once_on_a_busy_exchange(mailbox, export):
    conversation_fill(35, kind="room", members=["alice"], start=DAY1, count=1)
    mailbox.busy_answers = 1

    job = export({"conversations": [35]})

    assert job.status == "failed"
    assert job.error.endswith("; start the export again later")
    assert mailbox.operations.count("CreateItem") == 1
