"""Django admin for people and groups: deactivating closes sockets at once, groups save."""

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group
from django.test import Client

from config.asgi import application
from directory import services as directory
from directory.models import Person

TIMEOUT = 5
CLOSED_FORBIDDEN = {"type": "websocket.close", "code": 4403}


@pytest.fixture
def admin_client(make_person):
    root = make_person("root", display_name="Root Admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def no_periodic_sweep(settings):
    """Only the admin's own push may close the sockets in these tests."""
    settings.PARLEY_WS_ACCESS_SWEEP_SECONDS = 3600


@pytest_asyncio.fixture
async def alice_socket(transactional_db, alice):
    _, plaintext = await database_sync_to_async(directory.token_create)(person=alice)
    communicator = WebsocketCommunicator(
        application, "/ws/", headers=[(b"authorization", f"Bearer {plaintext}".encode())]
    )
    is_accepted, _ = await communicator.connect(timeout=TIMEOUT)
    assert is_accepted
    assert (await communicator.receive_json_from(timeout=TIMEOUT))["type"] == "hello"
    yield communicator
    await communicator.disconnect(timeout=TIMEOUT)


@pytest.mark.django_db
def test_saving_a_group_in_admin_stores_it(admin_client):
    group = Group.objects.get(name="Compliance")  # created by a migration

    response = admin_client.post(
        f"/admin/auth/group/{group.pk}/change/", {"name": "Compliance officers"}
    )

    assert response.status_code == 302
    group.refresh_from_db()
    assert group.name == "Compliance officers"


def person_form(person: Person, **changes) -> dict:
    """The admin change form of a person as a browser would post it back."""
    data = {
        "username": person.username,
        "first_name": "",
        "last_name": "",
        "email": person.email,
        "is_active": "on" if person.is_active else "",
        "date_joined_0": person.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": person.date_joined.strftime("%H:%M:%S"),
        "display_name": person.display_name,
        "title": "",
        "company": "",
        "work_phone": "",
        "mobile_phone": "",
        "home_phone": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != "" or key != "is_active"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_unticking_active_in_the_admin_form_closes_the_persons_sockets(
    no_periodic_sweep, admin_client, alice, alice_socket
):
    response = await database_sync_to_async(admin_client.post)(
        f"/admin/directory/person/{alice.pk}/change/", person_form(alice, is_active="")
    )

    assert response.status_code == 302, response.content
    assert await database_sync_to_async(Person.objects.filter(is_active=False).count)() == 1
    assert await alice_socket.receive_output(timeout=TIMEOUT) == CLOSED_FORBIDDEN


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_deactivate_bulk_action_closes_the_selected_peoples_sockets(
    no_periodic_sweep, admin_client, alice, bob, carol, alice_socket
):
    selected = {"action": "deactivate_people", "_selected_action": [alice.pk, bob.pk]}

    response = await database_sync_to_async(admin_client.post)("/admin/directory/person/", selected)

    assert response.status_code == 302
    inactive = await database_sync_to_async(
        lambda: sorted(Person.objects.filter(is_active=False).values_list("username", flat=True))
    )()
    assert inactive == ["alice", "bob"]
    assert await alice_socket.receive_output(timeout=TIMEOUT) == CLOSED_FORBIDDEN
