"""Files: multipart upload into a conversation or room, checks, storage, archive, download."""

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from archiving.models import ArchiveRecord
from chat import services
from chat.models import File, Message

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(client, conversation_id: int, name: str, data: bytes, content_type: str):
    return client.post(
        f"/api/v1/conversations/{conversation_id}/files/",
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        format="multipart",
    )


def written() -> tuple[int, int, int]:
    return Message.objects.count(), File.objects.count(), ArchiveRecord.objects.count()


def test_upload_stores_the_file_posts_a_message_and_archives_the_upload(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="R", members=[bob])

    response = upload(
        api_client_for(alice), room.pk, "../../etc/Q3 report.pdf", b"%PDF-1.7 x", "application/pdf"
    )

    assert response.status_code == 201
    message = response.json()
    sha = hashlib.sha256(b"%PDF-1.7 x").hexdigest()
    file = File.objects.get()
    assert message["file"] == {
        "id": file.pk,
        "name": "Q3 report.pdf",
        "content_type": "application/pdf",
        "size": 10,
        "sha256": sha,
        "download_url": f"/api/v1/files/{file.pk}/download/",
    }
    assert (message["conversation"], message["seq"]) == (room.pk, 1)
    assert default_storage.open(file.blob.name).read() == b"%PDF-1.7 x"
    record = ArchiveRecord.objects.get(event="file.uploaded")
    assert (record.actor_username, record.message_id) == ("alice", message["id"])
    assert record.payload == {
        "file": file.pk,
        "name": "Q3 report.pdf",
        "size": 10,
        "sha256": sha,
        "content_type": "application/pdf",
        "storage_path": file.blob.name,
    }


def test_a_member_downloads_it_and_the_download_is_archived(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="R", members=[bob])
    message = services.file_post(
        uploader=alice, conversation_id=room.pk, name="a.png", content_type="image/png", data=PNG
    )

    response = api_client_for(bob).get(f"/api/v1/files/{message.file_id}/download/")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="a.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    record = ArchiveRecord.objects.get(event="file.downloaded")
    assert (record.actor_username, record.payload["file"]) == ("bob", message.file_id)


def test_a_non_member_cannot_download_and_nothing_is_archived(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="R")
    message = services.file_post(
        uploader=alice, conversation_id=room.pk, name="a.png", content_type="image/png", data=PNG
    )
    before = written()

    response = api_client_for(bob).get(f"/api/v1/files/{message.file_id}/download/")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "file_not_found")
    assert written() == before


def test_deleting_the_message_keeps_the_blob_for_the_archive(alice, bob, api_client_for):
    room = services.room_create(creator=alice, title="R", members=[bob])
    message = services.file_post(
        uploader=alice, conversation_id=room.pk, name="a.png", content_type="image/png", data=PNG
    )
    services.message_delete(actor=alice, message_id=message.pk)

    response = api_client_for(bob).get(f"/api/v1/files/{message.file_id}/download/")

    assert response.status_code == 404
    assert default_storage.open(File.objects.get().blob.name).read() == PNG


@pytest.mark.parametrize(
    ("name", "data", "content_type", "status", "code"),
    [
        ("tool.exe", b"MZ\x90\x00", "application/octet-stream", 400, "file_refused"),
        ("run.sh", b"#!/bin/sh\nrm -rf /", "text/plain", 400, "file_refused"),
        ("fake.pdf", b"MZ\x90\x00 not a pdf", "application/pdf", 400, "file_refused"),
        ("fake.png", b"GIF89a....", "image/png", 400, "file_type_mismatch"),
        ("notes.txt", b"\xff\xfe\x00binary", "text/plain", 400, "file_type_mismatch"),
        ("page.html", b"<script>", "text/html", 400, "file_type_not_allowed"),
        ("empty.txt", b"", "text/plain", 400, "file_empty"),
    ],
)
def test_bad_files_are_refused_with_a_clear_error_and_nothing_is_stored(
    alice, api_client_for, tmp_path, name, data, content_type, status, code
):
    room = services.room_create(creator=alice, title="R")
    before = written()

    response = upload(api_client_for(alice), room.pk, name, data, content_type)

    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert written() == before
    assert list(tmp_path.rglob("*")) == []


def test_a_file_above_the_limit_is_refused_with_413(alice, api_client_for, settings, tmp_path):
    settings.PARLEY_FILE_MAX_BYTES = 16
    room = services.room_create(creator=alice, title="R")
    before = written()

    response = upload(api_client_for(alice), room.pk, "big.txt", b"x" * 17, "text/plain")

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert "limit is 16 bytes" in response.json()["error"]["detail"]
    assert written() == before


def test_a_category_without_files_refuses_uploads(alice, api_client_for):
    category = services.category_create(name="No files", allows_files=False)
    room = services.room_create(creator=alice, title="R", category_id=category.pk)
    before = written()

    response = upload(api_client_for(alice), room.pk, "a.txt", b"hello", "text/plain")

    assert (response.status_code, response.json()["error"]["code"]) == (403, "files_disabled")
    assert written() == before


def test_a_direct_conversation_takes_files_too(alice, bob, api_client_for):
    direct, _ = services.conversation_direct_get_or_create(person=alice, other=bob)

    response = upload(api_client_for(bob), direct.pk, "a.csv", b"a,b\n1,2\n", "text/csv")

    assert response.status_code == 201
    assert response.json()["file"]["name"] == "a.csv"


def test_upload_without_a_file_field_is_a_clear_400(alice, api_client_for):
    room = services.room_create(creator=alice, title="R")

    response = api_client_for(alice).post(
        f"/api/v1/conversations/{room.pk}/files/", {"x": "1"}, format="multipart"
    )

    assert (response.status_code, response.json()["error"]["code"]) == (400, "file_missing")


def test_file_names_are_sanitised():
    assert services.file_name_sanitise("..\\..\\win.ini") == "win.ini"
    assert services.file_name_sanitise("a<b>|c;$(x).txt") == "a_b_c_(x).txt"
    assert services.file_name_sanitise("...") == "file"
    long_name = services.file_name_sanitise("x" * 300 + ".pdf")
    assert (len(long_name), long_name[-5:]) == (255, "x.pdf")


def test_an_oversized_upload_is_refused_from_its_content_length(alice, api_client_for, settings):
    settings.PARLEY_FILE_MAX_BYTES = 1024
    room = services.room_create(creator=alice, title="R")
    before = written()

    response = upload(api_client_for(alice), room.pk, "big.txt", b"x" * (70 * 1024), "text/plain")

    assert (response.status_code, response.json()["error"]["code"]) == (413, "file_too_large")
    assert "files are limited to 1024 bytes" in response.json()["error"]["detail"]
    assert written() == before
