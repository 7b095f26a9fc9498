"""An export's transcripts speak the language the officer chose (the organisation's by
default); timestamps stay UTC ISO 8601 and RSMF's fields are the standard's in every language."""

import email
import io
import json
import zipfile
from email import policy

import pytest

from archiving.exports import runner
from archiving.models import AuditEntry, ExportJob
from chat import services as chat
from directory import services as directory

pytestmark = pytest.mark.django_db


def _history(alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    first, _ = chat.message_post(sender=alice, conversation_id=conversation.pk, body="안녕하세요")
    chat.message_edit(editor=alice, message_id=first.pk, body="안녕하세요, 밥")
    return conversation


def _eml_text(job: ExportJob) -> tuple[email.message.EmailMessage, str]:
    [path] = job.files.values_list("path", flat=True)
    message = email.message_from_bytes(
        (runner.job_directory(job) / path).read_bytes(), policy=policy.default
    )
    return message, message.get_body(("plain",)).get_content()


@pytest.mark.parametrize(
    ("language", "edited", "heading", "times"),
    [
        ("en", "Alice Martin edited message #1: 안녕하세요, 밥", "Direct: ", "Times are UTC."),
        (
            "ko",
            "Alice Martin 님이 메시지 #1을(를) 편집했습니다: 안녕하세요, 밥",
            "1:1 대화: ",
            "시간은 UTC입니다.",
        ),
        ("zh-hant", "Alice Martin 編輯了訊息 #1：안녕하세요, 밥", "一對一交談：", "時間為 UTC。"),
    ],
)
def test_eml_transcripts_are_written_in_the_chosen_language(
    export, officer_client, alice, bob, language, edited, heading, times
):
    conversation = _history(alice, bob)

    response = export(
        {"format": "eml", "language": language, "search": {"conversations": [conversation.pk]}}
    )

    assert response.status_code == 202
    assert response.json()["language"] == language
    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.status == "completed", job.error
    message, text = _eml_text(job)
    assert message["Subject"].startswith(heading)
    assert times in text.splitlines()
    assert edited in text
    # Times stay UTC, written the same in every language.
    day = job.created_at.date().isoformat()
    assert message["Subject"].endswith(" (UTC)") or message["Subject"].endswith("（UTC）")
    assert day in json.dumps(list(job.files.values_list("path", flat=True)))
    audit = AuditEntry.objects.get(action="export.create")
    assert audit.parameters["language"] == language


def test_the_organisations_language_is_the_default(export, alice, bob):
    directory.organisation_settings_set(default_language="zh-hant", default_time_zone="UTC")
    conversation = _history(alice, bob)

    response = export({"format": "eml", "search": {"conversations": [conversation.pk]}})

    job = ExportJob.objects.get(pk=response.json()["id"])
    assert job.language == "zh-hant"
    _, text = _eml_text(job)
    assert "時間為 UTC。" in text


def test_an_unknown_language_is_refused_and_nothing_is_written(export, alice, bob, export_root):
    conversation = _history(alice, bob)

    response = export(
        {"format": "eml", "language": "fr", "search": {"conversations": [conversation.pk]}}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_language"
    assert ExportJob.objects.count() == 0
    assert not AuditEntry.objects.filter(action="export.create").exists()
    assert not export_root.exists()


def _rsmf_manifest(job: ExportJob) -> dict:
    [path] = job.files.values_list("path", flat=True)
    outer = email.message_from_bytes(
        (runner.job_directory(job) / path).read_bytes(), policy=policy.default
    )
    attachment = next(part for part in outer.iter_attachments())
    with zipfile.ZipFile(io.BytesIO(attachment.get_content())) as archive:
        return json.loads(archive.read("rsmf_manifest.json"))


def _shape(value):
    """The manifest's structure: keys, event types and custom field names, not the words."""
    if isinstance(value, dict):
        return {
            key: (
                item
                if key in ("type", "name", "version", "timestamp", "direction", "platform")
                else _shape(item)
            )
            for key, item in value.items()
            if key not in ("body", "value", "display", "title")
        }
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return type(value).__name__


def test_rsmf_fields_are_the_standards_whatever_the_language(export, alice, bob):
    conversation = _history(alice, bob)
    manifests = {}
    for language in ("en", "ko"):
        response = export(
            {"format": "rsmf", "language": language, "search": {"conversations": [conversation.pk]}}
        )
        job = ExportJob.objects.get(pk=response.json()["id"])
        assert job.status == "completed", job.error
        manifests[language] = _rsmf_manifest(job)

    assert _shape(manifests["ko"]) == _shape(manifests["en"])
    bodies = {lang: [e["body"] for e in m["events"]] for lang, m in manifests.items()}
    assert bodies["ko"] != bodies["en"]
    assert [e["timestamp"] for e in manifests["ko"]["events"]] == [
        e["timestamp"] for e in manifests["en"]["events"]
    ]
    assert all(e["timestamp"].endswith("Z") for e in manifests["ko"]["events"])
