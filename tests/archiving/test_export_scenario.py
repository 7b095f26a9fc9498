"""A room as an officer meets it (joins, an invitation, a file, edits, a manager's removal,
history views) exported as EML and RSMF: the transcript reads as what happened."""

import email
import io
import json
import os
import zipfile
from email import policy
from pathlib import Path

import jsonschema
import pytest

from archiving.exports import runner
from archiving.models import ExportJob, HistoryViewRepeat
from chat import services as chat
from chat.models import Participant
from tests.archiving.test_export_rsmf import SCHEMA, check_rsmf

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 90  # 98 bytes


@pytest.fixture
def desk(alice, bob, carol, make_person):
    """Trading desk: carol manages it; bob joins; dave is invited and accepts; alice posts a
    multi-line message and a chart, edits a message; carol removes one of alice's messages;
    bob scrolls back through the history three times."""
    dave = make_person("dave", display_name="Dave Evans", email="dave@contoso.test")
    for person, address in ((alice, "alice@contoso.test"), (bob, "bob@contoso.test")):
        person.email = address
        person.save(update_fields=["email"])
    room = chat.room_create(creator=carol, title="Trading desk", members=[alice])
    chat.room_join(person=bob, room_id=room.pk)
    invitation = chat.invitation_create(actor=carol, room_id=room.pk, username="dave")
    chat.invitation_answer(person=dave, invitation_id=invitation.pk, is_accepted=True)
    first, _ = chat.message_post(
        sender=alice, conversation_id=room.pk, body="Numbers for Q3:\nrevenue up 4%\ncosts flat"
    )
    chat.file_post(
        uploader=alice,
        conversation_id=room.pk,
        name="chart.png",
        content_type="image/png",
        data=PNG,
    )
    chat.message_edit(editor=alice, message_id=first.pk, body="Numbers for Q3: revenue up 5%")
    leak, _ = chat.message_post(sender=alice, conversation_id=room.pk, body="Client X is selling")
    chat.message_delete(actor=carol, message_id=leak.pk)
    participation = Participant.objects.get(person=bob, conversation=room, left_at=None)
    page = list(room.messages.order_by("seq"))[:3]
    for _ in range(3):
        chat.history_view_record(
            reader=bob, participation=participation, messages=page, is_backward=True
        )
    return room


def _export(export, room, export_format: str, **extra) -> ExportJob:
    search = {"conversations": [room.pk], "include_history_views": True, **extra}
    response = export({"format": export_format, "search": search})
    assert response.status_code == 202, response.json()
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "completed", job.error
    return job


def _keep(name: str, data: bytes) -> None:
    """Keep a sample for a person to read (PARLEY_TEST_SAMPLES=dir)."""
    if os.environ.get("PARLEY_TEST_SAMPLES"):
        folder = Path(os.environ["PARLEY_TEST_SAMPLES"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def test_the_eml_transcript_reads_as_what_happened(export, desk):
    job = _export(export, desk, "eml")

    [entry] = job.files.all()
    raw = (runner.job_directory(job) / entry.path).read_bytes()
    _keep("transcript.eml", raw)
    message = email.message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    lines = [line.split("] ", 1)[1] if line.startswith("[") else line for line in text.split("\n")]
    assert message["Subject"].startswith("Trading desk - ")
    assert "Participants: Carol Diaz, Alice Martin, Bob Chen, Dave Evans" in text
    assert lines[4:] == [
        "Carol Diaz created the room \u201cTrading desk\u201d with Alice Martin.",
        "Bob Chen joined the room.",
        "Carol Diaz invited Dave Evans to the room.",
        "Dave Evans joined the room, accepting an invitation.",
        "#1 Alice Martin: Numbers for Q3:",
        "           revenue up 4%",
        "           costs flat",
        f"Alice Martin uploaded chart.png (98 B, SHA-256 {_sha(PNG)[:12]}...) as message #2.",
        "           [attached: chart.png]",
        "Alice Martin edited message #1: Numbers for Q3: revenue up 5%",
        "#3 Alice Martin: Client X is selling",
        "Carol Diaz (manager) removed message #3 by Alice Martin: Client X is selling",
        "Bob Chen viewed messages #1 to #3 of the room's history (3 times).",
        "",
    ]
    assert "{" not in text
    assert "files/" not in raw.decode("ascii", "replace")
    [attachment] = list(message.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content()) == ("chart.png", PNG)


def test_the_rsmf_manifest_has_every_participant_and_each_event_its_own_type(export, desk):
    job = _export(export, desk, "rsmf", participants=["alice"])

    [entry] = job.files.all()
    path = runner.job_directory(job) / entry.path
    _, manifest, archive = check_rsmf(path)
    _keep("rsmf_manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False).encode())
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(manifest)
    assert manifest["participants"] == [
        {"id": "carol", "display": "Carol Diaz", "account_id": "carol"},
        {
            "id": "alice",
            "display": "Alice Martin",
            "account_id": "alice",
            "email": "alice@contoso.test",
            "custom": [{"name": "Custodian", "value": "yes"}],
        },
        {"id": "bob", "display": "Bob Chen", "account_id": "bob", "email": "bob@contoso.test"},
        {"id": "dave", "display": "Dave Evans", "account_id": "dave", "email": "dave@contoso.test"},
    ]
    [conversation] = manifest["conversations"]
    assert conversation["display"] == "Trading desk"
    assert conversation["participants"] == ["carol", "alice", "bob", "dave"]
    assert conversation["custodian"] == "alice"
    events = manifest["events"]
    assert [(e["type"], e.get("participant")) for e in events] == [
        ("join", "carol"),
        ("join", "bob"),
        ("disclaimer", "carol"),
        ("join", "dave"),
        ("message", "alice"),
        ("message", "alice"),  # the file's message, with the file attached once
        ("message", "alice"),  # the edit, pointing at its parent
        ("message", "alice"),
        ("message", "carol"),  # the removal, pointing at the removed message
        ("history", "bob"),
    ]
    posted, with_file, edit, removed, removal, history = (events[i] for i in (4, 5, 6, 7, 8, 9))
    assert posted["edits"] == [
        {
            "participant": "alice",
            "timestamp": edit["timestamp"],
            "previous": "Numbers for Q3:\nrevenue up 4%\ncosts flat",
            "new": "Numbers for Q3: revenue up 5%",
        }
    ]
    assert edit["parent"] == posted["id"]
    assert with_file["attachments"] == [
        {"id": with_file["attachments"][0]["id"], "display": "chart.png", "size": 98}
    ]
    assert archive.read(with_file["attachments"][0]["id"]) == PNG
    assert removed["deleted"] is True
    assert removed["body"] == "Client X is selling"
    assert removal["parent"] == removed["id"]
    assert "deleted" not in removal
    assert removal["body"] == "Carol Diaz (manager) removed message #3 by Alice Martin."
    assert {"name": "Message number", "value": "#3"} in removed["custom"]
    assert history["body"] == "Bob Chen viewed messages #1 to #3 of the room's history (3 times)."
    assert HistoryViewRepeat.objects.get().repeats == 2
    text = json.dumps(manifest)
    assert "storage_path" not in text
    assert "files/" not in text


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_the_manifest_bundle_holds_nothing_but_the_manifest_and_the_file(export, desk):
    job = _export(export, desk, "rsmf")

    [entry] = job.files.all()
    message = email.message_from_bytes(
        (runner.job_directory(job) / entry.path).read_bytes(), policy=policy.default
    )
    [package] = [p for p in message.iter_attachments() if p.get_filename() == "rsmf.zip"]
    names = zipfile.ZipFile(io.BytesIO(package.get_content())).namelist()

    assert sorted(names) == sorted(["rsmf_manifest.json", next(n for n in names if "chart" in n)])
