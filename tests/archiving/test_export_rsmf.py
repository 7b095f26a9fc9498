"""RSMF 2.0 output checked against Relativity's published manifest schema and the spec's rules."""

import email
import io
import json
import re
import zipfile
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import jsonschema
import pytest

from archiving.exports import runner
from archiving.models import ArchiveRecord, ExportJob
from chat import services as chat
from tests.archiving.export_data import conversation_fill, records_append

pytestmark = pytest.mark.django_db

SCHEMA = json.loads((Path(__file__).parent / "data" / "rsmf_schema_2_0_0.json").read_text())
DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def rsmf_open(path: Path) -> tuple[email.message.EmailMessage, dict, zipfile.ZipFile]:
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    [package] = [p for p in message.iter_attachments() if p.get_filename() == "rsmf.zip"]
    assert package.get_content_type() == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(package.get_content()))
    return message, json.loads(archive.read("rsmf_manifest.json")), archive


def check_rsmf(path: Path) -> tuple[email.message.EmailMessage, dict, zipfile.ZipFile]:
    """Validate one .rsmf file: schema, headers, and the references the spec requires."""
    message, manifest, archive = rsmf_open(path)
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)]
    assert errors == []
    assert manifest["version"] == "2.0.0"
    participants = {p["id"] for p in manifest["participants"]}
    conversations = {c["id"] for c in manifest["conversations"]}
    event_ids = [e["id"] for e in manifest["events"]]
    assert len(participants) == len(manifest["participants"])
    assert len(set(event_ids)) == len(event_ids)
    for conversation in manifest["conversations"]:
        assert set(conversation["participants"]) <= participants
    for event in manifest["events"]:
        assert event["conversation"] in conversations
        assert event.get("participant", next(iter(participants))) in participants
        assert ISO_UTC.match(event["timestamp"]), event["timestamp"]
        if "parent" in event:
            assert event["parent"] in event_ids
        for edit in event.get("edits", []):
            assert edit["participant"] in participants
        for attachment in event.get("attachments", []):
            assert attachment["id"] in archive.namelist()
    stamps = [e["timestamp"] for e in manifest["events"]]
    assert stamps == sorted(stamps)
    assert message["X-RSMF-Version"] == "2.0.0"
    assert message["X-RSMF-Generator"] == "Parley compliance export"
    assert message["X-RSMF-BeginDate"] == stamps[0]
    assert message["X-RSMF-EndDate"] == stamps[-1]
    assert int(message["X-RSMF-EventCount"]) == len(manifest["events"])
    assert message["X-RSMF-EventCollectionID"] == manifest["eventcollectionid"]
    attachments = sum(len(e.get("attachments", [])) for e in manifest["events"])
    assert int(message["X-RSMF-AttachmentCount"]) == attachments
    assert sorted(archive.namelist()) == sorted(
        [
            "rsmf_manifest.json",
            *(a["id"] for e in manifest["events"] for a in e.get("attachments", [])),
        ]
    )
    return message, manifest, archive


@pytest.fixture
def run_export(officer_client, django_capture_on_commit_callbacks):
    def run(search: dict) -> ExportJob:
        with django_capture_on_commit_callbacks(execute=True):
            response = officer_client.post(
                "/api/v1/archive/exports/", {"format": "rsmf", "search": search}, format="json"
            )
        assert response.status_code == 202
        job = ExportJob.objects.get(pk=response.json()["id"])
        assert job.status == "completed", job.error
        return job

    return run


def test_rsmf_represents_edits_and_deletes_with_parents(run_export, alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    first, _ = chat.message_post(sender=alice, conversation_id=conversation.pk, body="draft one")
    chat.message_edit(editor=alice, message_id=first.pk, body="draft two")
    chat.message_edit(editor=alice, message_id=first.pk, body="final")
    doomed, _ = chat.message_post(sender=bob, conversation_id=conversation.pk, body="oops")
    chat.message_delete(actor=bob, message_id=doomed.pk)

    job = run_export({"conversations": [conversation.pk]})

    [entry] = list(job.files.order_by("path").values())
    message, manifest, _ = check_rsmf(runner.job_directory(job) / entry["path"])
    assert entry["path"].endswith(".rsmf")
    assert [p["id"] for p in manifest["participants"]] == ["alice", "bob"]
    assert manifest["participants"][0]["display"] == "Alice Martin"
    assert manifest["conversations"][0]["type"] == "direct"
    assert manifest["conversations"][0]["platform"] == "parley"
    events = manifest["events"]
    assert [e["type"] for e in events] == [
        "join",
        "message",
        "message",
        "message",
        "message",
        "message",
    ]
    posted = events[1]
    assert posted["body"] == "draft one"
    assert posted["edits"] == [
        {
            "participant": "alice",
            "timestamp": events[2]["timestamp"],
            "previous": "draft one",
            "new": "draft two",
        },
        {
            "participant": "alice",
            "timestamp": events[3]["timestamp"],
            "previous": "draft two",
            "new": "final",
        },
    ]
    assert (events[2]["parent"], events[3]["parent"]) == (posted["id"], posted["id"])
    assert events[4]["deleted"] is True
    assert "deleted" not in events[5]  # the notice; the message it points at is the deleted one
    assert events[5] == {
        **events[5],
        "parent": events[4]["id"],
        "body": "Bob Chen deleted message #2.",
        "participant": "bob",
    }
    hashes = list(
        ArchiveRecord.objects.filter(conversation_id=conversation.pk)
        .order_by("chain_index")
        .values_list("record_hash", flat=True)
    )
    assert [e["custom"][3]["value"] for e in events] == hashes
    assert message["X-RSMF-EventCount"] == "6"
    assert message["X-RSMF-Participants"] == "Alice Martin, Bob Chen"


def test_rsmf_slices_per_conversation_and_day_with_joins_leaves_and_files(run_export, settings):
    stored = Path(settings.MEDIA_ROOT) / "files" / "x1"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"\x89PNG picture")
    conversation_fill(
        21,
        kind="room",
        members=["alice", "bob"],
        start=DAY1,
        count=6,
        step_seconds=6 * 3600,
        title="Trading floor",
    )
    records_append(
        21,
        "room",
        [
            {
                "event": "participant.joined",
                "actor_username": "alice",
                "payload": {"person": "carol"},
                "occurred_at": DAY1 + timedelta(days=1, hours=12, minutes=30),
            },
            {
                "event": "file.uploaded",
                "actor_username": "carol",
                "payload": {"name": "chart.png", "size": 12, "storage_path": "files/x1"},
                "occurred_at": DAY1 + timedelta(days=1, hours=12, minutes=31),
            },
            {
                "event": "participant.left",
                "actor_username": "bob",
                "payload": {"person": "bob"},
                "occurred_at": DAY1 + timedelta(days=1, hours=13),
            },
        ],
    )

    job = run_export({"conversations": [21]})

    paths = list(job.files.order_by("path").values_list("path", flat=True))
    assert paths == ["conversation-21/2026-11-02.rsmf", "conversation-21/2026-11-03.rsmf"]
    _, day1, _ = check_rsmf(runner.job_directory(job) / paths[0])
    _, day2, archive = check_rsmf(runner.job_directory(job) / paths[1])
    assert day1["eventcollectionid"] == day2["eventcollectionid"] == "parley-conversation-21"
    assert day1["conversations"][0]["display"] == "Trading floor"
    assert day1["conversations"][0]["type"] == "channel"
    assert len(day1["events"]) + len(day2["events"]) == 10
    # Everyone who took part that day: the members at its start and carol, who joined.
    assert day2["conversations"][0]["participants"] == ["alice", "bob", "carol"]
    kinds = [(e["type"], e.get("participant")) for e in day2["events"]]
    assert kinds[-3:] == [("join", "carol"), ("message", "carol"), ("leave", "bob")]
    upload = day2["events"][-2]
    assert upload["attachments"] == [
        {"id": f"{upload['id'][1:]}-chart.png", "display": "chart.png", "size": 12}
    ]
    assert archive.read(upload["attachments"][0]["id"]) == b"\x89PNG picture"


def test_the_shipped_schema_rejects_what_the_spec_forbids():
    validator = jsonschema.Draft7Validator(SCHEMA)
    bad = {
        "version": "2.0.0",
        "participants": [{"display": "no id"}],
        "conversations": [{"id": "C1", "participants": []}],
        "events": [{"type": "edit"}],
    }

    messages = sorted(e.message for e in validator.iter_errors(bad))

    assert messages == [
        "'edit' is not one of ['message', 'disclaimer', 'join', 'leave', 'history', 'unknown']",
        "'id' is a required property",
        "'platform' is a required property",
    ]
