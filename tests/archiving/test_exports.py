"""Export jobs through the API: validation, progress, EML output, manifests, download, cancel."""

import email
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from email import policy

import pytest

from archiving.exports import runner
from archiving.exports.manifest import export_verify
from archiving.exports.scope import ResolvedScope
from archiving.models import ArchiveRecord, AuditEntry, ExportJob
from archiving.search.indexing import search_index_pending
from chat import services as chat
from tests.archiving.export_data import conversation_fill, records_append

pytestmark = pytest.mark.django_db

DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WINDOW = {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("payload", "code", "detail"),
    [
        ({"format": "pdf", "search": WINDOW}, "invalid_format", "format must be one of"),
        ({"format": "eml"}, "invalid", "Give exactly one of search"),
        ({"format": "eml", "search": WINDOW, "case": 1}, "invalid", "Give exactly one of"),
        ({"format": "eml", "search": {}}, "invalid", "search needs at least one filter"),
        ({"format": "eml", "search": {"query": "NOT merger"}}, "invalid_query", "NOT"),
        (
            {"format": "eml", "search": {"start": "yesterday"}},
            "invalid",
            "search.start is not a valid date",
        ),
        (
            {"format": "eml", "search": {"start": "2026-11-02T00:00:00Z", "end": "2026-11-01"}},
            "invalid",
            "search.start must be before search.end",
        ),
        ({"format": "eml", "search": {"colour": "red"}}, "invalid", "unknown fields: colour"),
        ({"format": "eml", "search": {"kinds": ["mail"]}}, "invalid", "search.kinds may"),
        (
            {"format": "eml", "search": {"events": ["Posted!"]}},
            "invalid",
            'Unknown event "Posted!"',
        ),
        ({"format": "eml", "search": WINDOW, "extra": 1}, "invalid", "Unknown fields: extra"),
        ({"format": "eml", "case": 7}, "no_such_case", "There is no case 7"),
        ({"format": "eml", "case": "7"}, "invalid", "case must be a case id"),
        ({"format": "exchange", "search": WINDOW}, "exchange_not_configured", "PARLEY_EXPORT"),
    ],
)
def test_export_create_rejects_bad_requests_and_writes_nothing(
    export, payload, code, detail, export_root
):
    response = export(payload)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert detail in response.json()["error"]["detail"]
    assert ExportJob.objects.count() == 0
    assert AuditEntry.objects.count() == 0
    assert not export_root.exists()


def test_exports_are_for_compliance_officers_only(alice, api_client_for, officer_client):
    from rest_framework.test import APIClient

    anonymous = APIClient().post("/api/v1/archive/exports/", {}, format="json")
    employee = api_client_for(alice).post(
        "/api/v1/archive/exports/", {"format": "eml", "search": WINDOW}, format="json"
    )
    listing = api_client_for(alice).get("/api/v1/archive/exports/")

    assert anonymous.status_code == 401
    assert employee.status_code == 403
    assert listing.status_code == 403
    assert ExportJob.objects.count() == 0


def _direct_history(alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    first, _ = chat.message_post(
        sender=alice, conversation_id=conversation.pk, body="Hi <b>Bob</b>"
    )
    chat.message_post(sender=bob, conversation_id=conversation.pk, body="Hello & welcome")
    chat.message_edit(editor=alice, message_id=first.pk, body="Hi Bob, the merger is on")
    doomed, _ = chat.message_post(sender=bob, conversation_id=conversation.pk, body="secret plan")
    chat.message_delete(actor=bob, message_id=doomed.pk)
    return conversation


def test_eml_export_writes_one_readable_message_per_conversation_day(
    export, officer_client, alice, bob
):
    conversation = _direct_history(alice, bob)
    records = ArchiveRecord.objects.filter(conversation_id=conversation.pk).count()

    response = export({"format": "eml", "search": {"conversations": [conversation.pk]}})

    assert response.status_code == 202
    body = response.json()
    assert set(body) >= {"id", "status", "progress"}
    detail = officer_client.get(f"/api/v1/archive/exports/{body['id']}/").json()
    assert detail["status"] == "completed", detail["error"]
    assert detail["progress"] == {"records_done": records, "records_total": records}
    job = ExportJob.objects.get(pk=body["id"])
    for field in ("created_at", "started_at", "finished_at"):  # UTC with a Z, like every answer
        assert detail[field] == getattr(job, field).astimezone(UTC).isoformat().replace(
            "+00:00", "Z"
        )
    directory = runner.job_directory(job)
    day = ArchiveRecord.objects.get(conversation_id=conversation.pk, chain_index=0).occurred_at
    name = f"conversation-{conversation.pk}/{day.date().isoformat()}.eml"
    assert list(job.files.values_list("path", flat=True)) == [name]
    message = email.message_from_bytes((directory / name).read_bytes(), policy=policy.default)
    assert message["From"].addresses[0].username == "alice"
    assert [a.username for a in message["To"].addresses] == ["bob"]
    assert message["Subject"] == f"Direct: Alice Martin and Bob Chen - {day.date()} (UTC)"
    assert message["Message-ID"].endswith(f".c{conversation.pk}@parley.archive>")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "#1 Alice Martin: Hi <b>Bob</b>" in text
    assert "Alice Martin edited message #1: Hi Bob, the merger is on" in text
    assert "Bob Chen deleted message #3: secret plan" in text
    assert "Hi &lt;b&gt;Bob&lt;/b&gt;" in html
    assert "Hello &amp; welcome" in html
    assert "<b>Bob</b>" not in html
    assert "Bob Chen deleted message #3." in html


def test_eml_export_attaches_uploaded_files_without_their_storage_path(
    export, officer_client, settings, alice
):
    stored = settings.MEDIA_ROOT / "files" / "ab12"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"%PDF-1.4 quarterly numbers")
    conversation_fill(41, kind="room", members=["alice"], start=DAY1, count=1, title="Finance")
    payload = {"name": "q3.pdf", "size": 26, "storage_path": "files/ab12"}
    payload_missing = {"name": "gone.pdf", "size": 3, "storage_path": "files/nothing"}
    records_append(
        41,
        "room",
        [
            {
                "event": "file.uploaded",
                "actor_username": "alice",
                "payload": payload,
                "occurred_at": DAY1 + timedelta(minutes=5),
            },
            {
                "event": "file.uploaded",
                "actor_username": "alice",
                "payload": payload_missing,
                "occurred_at": DAY1 + timedelta(minutes=6),
            },
        ],
    )

    response = export({"format": "eml", "search": {"conversations": [41]}})

    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "completed", job.error
    raw = (runner.job_directory(job) / "conversation-41/2026-11-02.eml").read_bytes()
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message.get_content_type() == "multipart/mixed"
    attachments = list(message.iter_attachments())
    assert [(a.get_filename(), a.get_content()) for a in attachments] == [
        ("q3.pdf", b"%PDF-1.4 quarterly numbers")
    ]
    text = message.get_body(("plain",)).get_content()
    assert "Alice Martin uploaded q3.pdf (26 B)." in text
    assert "[attached: q3.pdf]" in text
    assert "Alice Martin uploaded gone.pdf (3 B)." in text
    assert "[file no longer stored: only its name and SHA-256 are archived]" in text
    assert "files/" not in raw.decode()  # the storage path never leaves Parley


def test_records_with_equal_timestamps_across_batches_come_out_once_each(settings):
    settings.PARLEY_EXPORT_BATCH_SIZE = 3
    same = DAY1 + timedelta(hours=1)
    for conversation_id in (7, 8):
        records_append(
            conversation_id,
            "group",
            [
                {
                    "event": "message.posted",
                    "actor_username": "alice",
                    "occurred_at": same,
                    "body": f"tick {n}",
                    "message_id": conversation_id * 100 + n,
                }
                for n in range(7)
            ],
        )
    scope = ResolvedScope.of(
        {
            "query": "",
            "participants": [],
            "senders": [],
            "conversations": [7, 8],
            "kinds": [],
            "events": [],
            "start": None,
            "end": None,
        }
    )
    heads = scope.heads()

    keys = [
        (r.conversation_id, r.chain_index)
        for r in scope.records(heads=heads, after=None, batch_size=3)
    ]

    assert keys == [(c, i) for c in (7, 8) for i in range(7)]
    assert scope.expected_count(heads) == 14
    resumed = [
        (r.conversation_id, r.chain_index)
        for r in scope.records(heads=heads, after=(7, 5), batch_size=3)
    ]
    assert resumed == [(7, 6)] + [(8, i) for i in range(7)]


def test_query_scope_exports_only_matching_records(export):
    conversation_fill(5, kind="group", members=["alice", "bob"], start=DAY1, count=4)
    records_append(
        5,
        "group",
        [
            {
                "event": "message.posted",
                "actor_username": "bob",
                "occurred_at": DAY1,
                "body": "The MERGER closes friday",
                "message_id": 99,
            }
        ],
    )

    response = export({"format": "eml", "search": {"query": 'merger OR "message 2"'}})

    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "completed", job.error
    assert (job.records_done, job.records_total) == (2, 2)
    manifest = (runner.job_directory(job) / "manifest.json").read_text()
    assert '"expected_records": 2' in manifest
    assert '"written_records": 2' in manifest


def test_case_export_holds_exactly_what_the_case_holds_cover(export, officer):
    from archiving.holds import case_create, hold_place

    conversation_fill(11, kind="group", members=["alice", "bob"], start=DAY1, count=3)
    conversation_fill(12, kind="group", members=["carol", "dave"], start=DAY1, count=3)
    records_append(
        13,
        "group",
        [
            {
                "event": "message.posted",
                "actor_username": "erin",
                "occurred_at": DAY1,
                "body": "merger talk",
                "message_id": 131,
            },
            {
                "event": "message.posted",
                "actor_username": "erin",
                "occurred_at": DAY1,
                "body": "lunch talk",
                "message_id": 132,
            },
        ],
    )
    case = case_create(actor=officer, name="Project Blue")
    empty = export({"format": "eml", "case": case.pk})
    hold_place(actor=officer, case_id=case.pk, conversations=[11])
    hold_place(actor=officer, case_id=case.pk, conversations=[13], query="merger")

    response = export({"format": "eml", "case": case.pk})

    assert (empty.status_code, empty.json()["error"]["code"]) == (400, "case_without_holds")
    assert response.status_code == 202
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "completed", job.error
    # conversation 11: created + 3 messages; conversation 13: only the record matching "merger"
    assert (job.records_done, job.records_total) == (5, 5)
    assert job.scope["kind"] == "case"
    manifest = json.loads((runner.job_directory(job) / "manifest.json").read_text())
    assert sorted(manifest["archive"]["chains"]) == ["11", "13"]
    report, _ = export_verify(runner.job_directory(job))
    assert report.is_intact


def test_a_gap_between_expected_and_written_fails_the_job(export, monkeypatch):
    conversation_fill(6, kind="group", members=["alice", "bob"], start=DAY1, count=5)
    real = ResolvedScope.records

    def drop_one(self, **kwargs):
        return (r for r in real(self, **kwargs) if r.chain_index != 3)

    monkeypatch.setattr(ResolvedScope, "records", drop_one)

    response = export({"format": "eml", "search": {"conversations": [6]}})

    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "failed"
    assert job.error == (
        "wrote 5 records but the archive holds 6 in scope; the export is incomplete and must "
        "not be used"
    )
    assert not runner.job_archive(job).exists()
    assert not (runner.job_directory(job) / "manifest.json").exists()


def _tree(directory) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("export_format", "checkpoint_files", "recorded"),
    [("eml", 1, 3), ("rsmf", 2, 2), ("eml", 200, 0)],
)
def test_an_export_killed_mid_way_resumes_to_the_same_bytes(
    export, monkeypatch, settings, export_format, checkpoint_files, recorded
):
    for conversation_id in (11, 12):
        conversation_fill(
            conversation_id,
            kind="group",
            members=["alice", "bob"],
            start=DAY1,
            count=30,
            step_seconds=3 * 3600,
        )
    response = export({"format": export_format, "search": WINDOW})
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "completed", job.error
    reference = _tree(runner.job_directory(job))
    reference_zip = runner.job_archive(job).read_bytes()
    # 30 messages every 3 h from 09:00: 5 days; + the manifest, its signature and the key
    assert len(reference) == 2 * 5 + 3

    runner.export_files_remove(job=job)
    ExportJob.objects.filter(pk=job.pk).update(
        status="queued", state={}, records_done=0, finished_at=None, manifest_sha256=""
    )
    settings.PARLEY_EXPORT_CHECKPOINT_FILES = checkpoint_files
    settings.PARLEY_EXPORT_CHECKPOINT_SECONDS = 3600
    real_flush_rename = runner.manifests.sha256_file
    calls = {"n": 0}

    def crash_after_three(path):
        calls["n"] += 1
        if calls["n"] == 4:
            raise SystemExit("worker killed")  # not an Exception: the job is left running
        return real_flush_rename(path)

    monkeypatch.setattr(runner.manifests, "sha256_file", crash_after_three)
    with pytest.raises(SystemExit):
        runner.export_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.files.count()) == ("running", recorded)
    monkeypatch.setattr(runner.manifests, "sha256_file", real_flush_rename)
    ExportJob.objects.filter(pk=job.pk).update(heartbeat_at=None)  # the worker is gone

    assert runner.export_run(job_id=job.pk) == "completed"

    job.refresh_from_db()
    assert job.attempts == 3
    assert _tree(runner.job_directory(job)) == reference
    assert runner.job_archive(job).read_bytes() == reference_zip


def test_download_streams_the_zip_to_officers_and_is_audited(
    export, officer_client, api_client_for, alice, tmp_path
):
    conversation_fill(3, kind="room", members=["alice", "bob"], start=DAY1, count=3)
    job_id = export({"format": "eml", "search": {"kinds": ["room"]}}).json()["id"]

    refused = api_client_for(alice).get(f"/api/v1/archive/exports/{job_id}/download/")
    response = officer_client.get(f"/api/v1/archive/exports/{job_id}/download/")

    assert refused.status_code == 403
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    data = b"".join(response.streaming_content)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == [
        "conversation-3/2026-11-02.eml",
        "manifest.json",
        "manifest.json.sig",
        "signing-key.pem",
    ]
    downloaded = tmp_path / "download.zip"
    downloaded.write_bytes(data)
    report, manifest = export_verify(downloaded)
    assert report.is_intact
    assert manifest["counts"] == {"expected_records": 4, "written_records": 4, "files": 1}
    assert manifest["archive"]["chains"]["3"]["length"] == 4
    assert manifest["export"]["exported_by"]["username"] == "cora"
    actions = list(AuditEntry.objects.order_by("sequence").values_list("action", "target"))
    assert actions == [
        ("export.create", f"export:{job_id}"),
        ("access.refused", f"/api/v1/archive/exports/{job_id}/download/"),
        ("export.download", f"export:{job_id}"),
    ]


def test_cancel_stops_a_queued_export_and_only_once(officer_client):
    conversation_fill(4, kind="room", members=["alice"], start=DAY1, count=2)
    created = officer_client.post(  # no on-commit run: the job stays queued
        "/api/v1/archive/exports/", {"format": "eml", "search": WINDOW}, format="json"
    )
    job_id = created.json()["id"]

    cancelled = officer_client.post(f"/api/v1/archive/exports/{job_id}/cancel/")
    again = officer_client.post(f"/api/v1/archive/exports/{job_id}/cancel/")
    download = officer_client.get(f"/api/v1/archive/exports/{job_id}/download/")

    assert created.json()["status"] == "queued"
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert download.status_code == 409
    assert runner.export_run(job_id=job_id) == "finished"
    assert ExportJob.objects.get(pk=job_id).records_done == 0
    assert list(AuditEntry.objects.order_by("sequence").values_list("action", flat=True)) == [
        "export.create",
        "export.cancel",
    ]


def test_cancel_while_running_stops_at_the_next_checkpoint_and_removes_files(
    export, monkeypatch, settings, officer
):
    from archiving.exports.services import export_cancel

    conversation_fill(
        13, kind="group", members=["alice", "bob"], start=DAY1, count=30, step_seconds=3 * 3600
    )
    settings.PARLEY_EXPORT_CHECKPOINT_FILES = 1
    real = runner.manifests.sha256_file
    calls = {"n": 0}

    def cancel_on_second_file(path):
        calls["n"] += 1
        if calls["n"] == 2:
            export_cancel(actor=officer, job_id=ExportJob.objects.get().pk)
        return real(path)

    monkeypatch.setattr(runner.manifests, "sha256_file", cancel_on_second_file)

    response = export({"format": "eml", "search": {"conversations": [13]}})

    job = ExportJob.objects.get(pk=response.json()["id"])
    assert (job.status, job.records_done, job.files.count()) == ("cancelled", 5, 1)  # day 1
    assert not runner.job_directory(job).exists()
    assert not runner.job_archive(job).exists()
    assert calls["n"] == 2  # nothing written after the checkpoint that saw the cancel


def test_an_export_of_a_search_holds_exactly_what_the_search_finds(
    export, officer_client, alice, bob, carol
):
    room = chat.room_create(creator=alice, title="Deals", members=[bob])
    chat.message_post(sender=alice, conversation_id=room.pk, body="before carol: merger")
    chat.room_join(person=carol, room_id=room.pk)
    chat.message_post(sender=bob, conversation_id=room.pk, body="with carol: merger")
    chat.participant_leave(person=carol, conversation_id=room.pk)
    chat.message_post(sender=alice, conversation_id=room.pk, body="after carol: merger")
    other, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    chat.message_post(sender=alice, conversation_id=other.pk, body="merger elsewhere")
    filters = {"participants": ["carol"], "query": "merger"}
    search_index_pending()

    search = officer_client.post("/api/v1/archive/search/", filters, format="json")
    response = export({"format": "eml", "search": filters})
    listing = officer_client.get("/api/v1/archive/exports/")

    assert search.status_code == 200
    assert [hit["body"] for hit in search.json()["hits"]] == ["with carol: merger"]
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "completed", job.error
    assert (job.records_done, job.records_total) == (search.json()["total"], 1)
    assert list(job.files.values_list("conversation_id", flat=True)) == [room.pk]
    assert [
        (j["id"], j["status"], j["progress"], j["files"]) for j in listing.json()["results"]
    ] == [(job.pk, "completed", {"records_done": 1, "records_total": 1}, 1)]
    assert listing.json()["results"][0]["download"] == f"/api/v1/archive/exports/{job.pk}/download/"


def test_export_refuses_unknown_people_as_the_search_does(export):
    response = export({"format": "eml", "search": {"participants": ["nobody"]}})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_person"
    assert ExportJob.objects.count() == 0


def test_a_job_whose_worker_died_is_queued_again_by_the_sweep(export, settings, officer):
    from archiving import tasks
    from archiving.exports.services import export_request_validate

    conversation_fill(16, kind="room", members=["alice"], start=DAY1, count=2)
    scope, export_format = export_request_validate({"format": "eml", "search": {"kinds": ["room"]}})
    stale = runner.timezone.now() - timedelta(seconds=settings.PARLEY_EXPORT_STALE_SECONDS + 1)
    dead = ExportJob.objects.create(
        requester=officer,
        scope=scope,
        format=export_format,
        created_at=stale,
        status="running",
        heartbeat_at=stale,
        attempts=1,
    )
    alive = ExportJob.objects.create(
        requester=officer,
        scope=scope,
        format=export_format,
        created_at=stale,
        status="running",
        heartbeat_at=runner.timezone.now(),
        attempts=1,
    )

    assert tasks.export_resume_stale() == 1

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, dead.attempts, dead.records_done) == ("completed", 2, 3)
    assert (alive.status, alive.attempts) == ("running", 1)


def test_an_export_of_a_date_filtered_search_holds_exactly_the_searched_records(
    officer_client, export, alice, bob, archive_record
):
    # Noon on 31 Dec and on 1, 2 and 3 January; the first instant of 2 January; 86 microseconds
    # before 4 January; the first instant of 4 January.
    for at in (-1, 0, 1, 2, 0.5, 2.5 - 1e-9, 2.5):
        archive_record(
            conversation_id=61, actor=alice, at=at, body="numbers", participants=[alice, bob]
        )
    search_index_pending()
    # What the console sends: the search's own filters, dates as the officer typed them.
    search = {"query": "numbers", "start": "2026-01-02", "end": "2026-01-03"}

    found = officer_client.post(
        "/api/v1/archive/search/", {**search, "page_size": 100}, format="json"
    ).json()
    response = export({"format": "rsmf", "search": search})

    assert response.status_code == 202, response.json()
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "completed", job.error
    hashes = set()
    for entry in job.files.all():
        raw = (runner.job_directory(job) / entry.path).read_bytes()
        message = email.message_from_bytes(raw, policy=policy.default)
        [package] = [p for p in message.iter_attachments() if p.get_filename() == "rsmf.zip"]
        manifest = json.loads(
            zipfile.ZipFile(io.BytesIO(package.get_content())).read("rsmf_manifest.json")
        )
        hashes |= {
            field["value"]
            for event in manifest["events"]
            for field in event["custom"]
            if field["name"] in ("Record hash", "Upload record hash")
        }
    exported = set(
        ArchiveRecord.objects.filter(record_hash__in=hashes).values_list("pk", flat=True)
    )
    searched = {hit["record"] for hit in found["hits"]}
    assert found["total"] == 4  # 2 and 3 January, both whole days, and nothing else
    assert exported == searched


def test_case_export_covers_active_holds_unless_released_ones_are_asked_for(export, officer):
    from archiving.holds import case_create, hold_place, hold_release

    conversation_fill(15, kind="group", members=["alice", "bob"], start=DAY1, count=2)
    conversation_fill(16, kind="group", members=["carol", "dave"], start=DAY1, count=4)
    case = case_create(actor=officer, name="Project Green")
    active = hold_place(actor=officer, case_id=case.pk, conversations=[15])
    released = hold_place(actor=officer, case_id=case.pk, conversations=[16])
    hold_release(actor=officer, hold_id=released.pk, reason="custodian cleared")

    default = export({"format": "eml", "case": case.pk})
    asked = export({"format": "eml", "case": case.pk, "include_released_holds": True})

    default, asked = (ExportJob.objects.get(pk=r.json()["id"]) for r in (default, asked))
    assert (default.status, asked.status) == ("completed", "completed")
    assert default.records_total == 3  # conversation 15 only: created + 2 messages
    assert asked.records_total == 3 + 5
    manifest = json.loads((runner.job_directory(default) / "manifest.json").read_text())
    assert sorted(manifest["archive"]["chains"]) == ["15"]
    assert [
        (h["hold"], h["status"], h["exported"]) for h in manifest["export"]["scope"]["holds"]
    ] == [(active.pk, "active", True), (released.pk, "released", False)]
    manifest = json.loads((runner.job_directory(asked) / "manifest.json").read_text())
    assert [h["exported"] for h in manifest["export"]["scope"]["holds"]] == [True, True]


def test_a_case_whose_holds_were_all_released_exports_only_when_asked(export, officer):
    from archiving.holds import case_create, hold_place, hold_release

    conversation_fill(17, kind="group", members=["alice", "bob"], start=DAY1, count=1)
    case = case_create(actor=officer, name="Closed matter")
    hold = hold_place(actor=officer, case_id=case.pk, conversations=[17])
    hold_release(actor=officer, hold_id=hold.pk, reason="matter settled")

    refused = export({"format": "eml", "case": case.pk})

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "case_without_active_holds"
    assert ExportJob.objects.count() == 0
