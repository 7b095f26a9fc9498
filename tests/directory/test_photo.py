"""A person's own photo and time zone: uploaded by them, seen by others only as their privacy
projection allows (a blocked watcher sees no photo, and cannot fetch it either)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from directory.models import Person
from presence import services as presence

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"parley" * 10 + b"\xff\xd9"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(client, content: bytes, name: str = "me.png"):
    return client.put(
        "/api/v1/me/photo/",
        {"file": SimpleUploadedFile(name, content)},
        format="multipart",
    )


def test_a_person_uploads_a_photo_and_a_colleague_sees_it(api_client_for, alice, bob):
    response = upload(api_client_for(alice), PNG)

    assert response.status_code == 200
    url = response.json()["photo"]
    assert url.startswith("/api/v1/users/alice/photo/?v=")
    seen = api_client_for(bob).get("/api/v1/users/", {"q": "alice"}).json()["results"][0]
    assert seen["presence"]["photo"] == url
    photo = api_client_for(bob).get(url)
    assert photo.status_code == 200
    assert photo["Content-Type"] == "image/png"
    assert b"".join(photo.streaming_content) == PNG


def test_a_new_photo_replaces_the_old_one(api_client_for, alice, bob):
    client = api_client_for(alice)
    first = upload(client, PNG).json()["photo"]

    second = upload(client, JPEG, "me.jpg").json()["photo"]

    assert second != first
    photo = api_client_for(bob).get(second)
    assert photo["Content-Type"] == "image/jpeg"
    assert b"".join(photo.streaming_content) == JPEG


def test_a_blocked_person_neither_sees_nor_fetches_the_photo(api_client_for, alice, bob):
    url = upload(api_client_for(alice), PNG).json()["photo"]
    presence.contact_add(owner=alice, username="bob", relationship="blocked")

    seen = api_client_for(bob).get("/api/v1/users/", {"q": "alice"}).json()["results"][0]
    assert "photo" not in seen["presence"]
    response = api_client_for(bob).get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "photo_not_found"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"GIF89a" + b"\x00" * 20, "photo_type_not_allowed"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "photo_type_not_allowed"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048, "photo_too_large"),
    ],
)
def test_a_photo_of_another_type_or_too_large_is_refused_and_nothing_is_stored(
    api_client_for, alice, settings, content, code
):
    settings.PARLEY_PHOTO_MAX_BYTES = 1024

    response = upload(api_client_for(alice), content)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not Person.objects.get(pk=alice.pk).photo


def test_deleting_my_photo_removes_it_for_everyone(api_client_for, alice, bob):
    client = api_client_for(alice)
    url = upload(client, PNG).json()["photo"]

    assert client.delete("/api/v1/me/photo/").status_code == 204

    assert client.get("/api/v1/presence/").json()["photo"] is None
    assert api_client_for(bob).get(url).status_code == 404


def test_my_time_zone_is_shown_to_colleagues_with_my_location(api_client_for, alice, bob):
    response = api_client_for(alice).patch(
        "/api/v1/me/", {"time_zone": "Europe/Paris"}, format="json"
    )

    assert response.status_code == 200
    seen = api_client_for(bob).get("/api/v1/presence/alice/").json()
    assert seen["time_zone"] == "Europe/Paris"


def test_an_unknown_time_zone_is_refused(api_client_for, alice):
    response = api_client_for(alice).patch(
        "/api/v1/me/", {"time_zone": "Mars/Olympus"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_time_zone"
    assert Person.objects.get(pk=alice.pk).time_zone == ""


@pytest.mark.parametrize("path", ["/api/v1/me/", "/api/v1/me/preferences/"])
def test_a_body_that_is_not_a_json_object_is_refused(api_client_for, alice, path):
    client = api_client_for(alice)

    as_list = client.patch(path, [None, None], format="json")
    missing = client.patch(path)

    assert (as_list.status_code, missing.status_code) == (400, 400)
    assert as_list.json()["error"]["detail"] == "The request body must be a JSON object."
    assert Person.objects.get(pk=alice.pk).time_zone == ""


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/v1/me/", {"time_zone": None}), ("/api/v1/me/preferences/", {"time_zone": None})],
)
def test_a_null_field_is_refused_not_taken_as_leave_it(api_client_for, alice, path, body):
    alice.time_zone = "Europe/Paris"
    alice.save(update_fields=["time_zone"])

    response = api_client_for(alice).patch(path, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["detail"] == "time_zone must be text."
    assert Person.objects.get(pk=alice.pk).time_zone == "Europe/Paris"
