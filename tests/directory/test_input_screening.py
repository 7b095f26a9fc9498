"""Input no field may hold (NUL, lone surrogates, absurd nesting): a 400 or an `error` frame
naming the field, whatever the endpoint or frame, and nothing written."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group

from archiving.models import Case, ExportJob, LegalHold, SavedSearch
from chat import services as chat
from chat.models import Message
from config.asgi import application
from directory import services as directory
from presence.models import Endpoint, PresenceState

NUL = "a\x00b"
SURROGATE = "a\ud800b"
TIMEOUT = 5


@pytest.fixture
def officer(make_person):
    person = make_person("cora", display_name="Cora Officer")
    person.groups.add(Group.objects.get(name="Compliance"))
    return person


def json_body(payload: dict) -> str:
    """JSON text with `\\u` escapes, as a client sends a NUL or a lone surrogate."""
    return json.dumps(payload, ensure_ascii=True)


def error_of(response) -> dict:
    return response.json()["error"]


# -- REST bodies ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["NUL", "lone surrogate"])
@pytest.mark.parametrize("field", ["note", "location"])
def test_presence_refuses_a_note_or_location_no_field_may_hold(alice, api_client_for, bad, field):
    client = api_client_for(alice)

    response = client.put(
        "/api/v1/presence/",
        json_body({"availability": "busy", field: bad}),
        content_type="application/json",
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"
    assert error_of(response)["detail"].startswith(f"{field}: ")
    assert not PresenceState.objects.filter(person=alice, manual_availability="busy").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["NUL", "lone surrogate"])
def test_compliance_writes_refuse_text_no_field_may_hold(officer, api_client_for, bad):
    client = api_client_for(officer)
    case = Case.objects.create(name="Blue", owner=officer)

    def post(path: str, payload: dict):
        return client.post(path, json_body(payload), content_type="application/json")

    answers = {
        "name": post("/api/v1/archive/cases/", {"name": bad}),
        "description": post("/api/v1/archive/cases/", {"name": "ok", "description": bad}),
        "query": post(f"/api/v1/archive/cases/{case.pk}/holds/", {"query": bad}),
        "saved name": post(
            f"/api/v1/archive/cases/{case.pk}/saved-searches/", {"name": bad, "query": "x"}
        ),
        "export query": post(
            "/api/v1/archive/exports/", {"search": {"query": bad}, "format": "rsmf"}
        ),
    }

    assert {what: r.status_code for what, r in answers.items()} == dict.fromkeys(answers, 400)
    assert error_of(answers["description"])["detail"].startswith("description: ")
    assert error_of(answers["export query"])["detail"].startswith("search.query: ")
    assert Case.objects.count() == 1
    assert not LegalHold.objects.exists()
    assert not SavedSearch.objects.exists()
    assert not ExportJob.objects.exists()


@pytest.mark.django_db
def test_a_nul_in_a_key_or_a_list_item_is_refused(alice, bob, api_client_for):
    client = api_client_for(alice)

    in_list = client.post(
        "/api/v1/conversations/",
        json_body({"participants": ["bob", NUL]}),
        content_type="application/json",
    )
    in_key = client.post(
        "/api/v1/conversations/",
        json_body({"participants": ["bob"], NUL: 1}),
        content_type="application/json",
    )

    assert in_list.status_code == 400
    assert error_of(in_list)["detail"].startswith("participants[1]: ")
    assert in_key.status_code == 400
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_deeply_nested_body_is_a_400_not_a_500(alice, api_client_for):
    client = api_client_for(alice)

    response = client.post(
        "/api/v1/conversations/",
        '{"participants": ' + "[" * 5000 + "]" * 5000 + "}",
        content_type="application/json",
    )

    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"
    assert "nested" in error_of(response)["detail"]


# -- REST URLs ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/?q=a%00b",
        "/api/v1/rooms/?category=a%00b",
        "/api/v1/search/?q=a%00b",
        "/api/v1/presence/a%00b/",
        "/api/v1/contacts/a%00b/",
        "/api/v1/archive/audit/?actor=a%00b",
        "/api/v1/users/?a%00b=1",
    ],
)
def test_a_nul_in_a_url_is_a_400_naming_it(officer, api_client_for, path):
    client = api_client_for(officer)

    response = client.get(path)

    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid"
    assert "NUL" in error_of(response)["detail"]


@pytest.mark.django_db
def test_a_query_parameter_refusal_names_the_parameter(alice, api_client_for):
    response = api_client_for(alice).get("/api/v1/users/?q=a%00b")

    assert error_of(response)["detail"].startswith("q: ")


# -- WebSocket frames -----------------------------------------------------------------------


@pytest.fixture
def direct(alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    return conversation


async def open_socket(person) -> WebsocketCommunicator:
    _, token = await database_sync_to_async(directory.token_create)(person=person)
    communicator = WebsocketCommunicator(
        application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    is_connected, code = await communicator.connect(timeout=TIMEOUT)
    assert is_connected, code
    hello = await communicator.receive_json_from(timeout=TIMEOUT)
    assert hello["type"] == "hello"
    return communicator


async def still_open(communicator: WebsocketCommunicator) -> bool:
    await communicator.send_json_to({"type": "ping", "ref": "alive"})
    return await communicator.receive_json_from(timeout=TIMEOUT) == {
        "type": "pong",
        "ref": "alive",
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["NUL", "lone surrogate"])
async def test_frames_with_text_no_field_may_hold_get_an_error_naming_the_field(alice, direct, bad):
    message, _ = await database_sync_to_async(chat.message_post)(
        sender=alice, conversation_id=direct.pk, body="first", client_id="c1"
    )
    socket = await open_socket(alice)
    try:
        frames = [
            {"type": "message.send", "ref": "s", "conversation": direct.pk, "body": bad},
            {"type": "message.edit", "ref": "e", "id": message.pk, "body": bad},
            {"type": "presence.set", "ref": "p", "availability": "busy", "note": bad},
        ]
        answers = []
        for frame in frames:
            await socket.send_to(text_data=json_body(frame))
            answers.append(await socket.receive_json_from(timeout=TIMEOUT))

        assert [(a["type"], a["code"], a.get("ref")) for a in answers] == [
            ("error", "invalid", "s"),
            ("error", "invalid", "e"),
            ("error", "invalid", "p"),
        ]
        assert [a["detail"].split(":")[0] for a in answers] == ["body", "body", "note"]
        assert await still_open(socket)
    finally:
        await socket.disconnect(timeout=TIMEOUT)
    assert await database_sync_to_async(
        lambda: list(Message.objects.values_list("body", "edited_at"))
    )() == [("first", None)]
    assert not await database_sync_to_async(
        PresenceState.objects.filter(person=alice, manual_availability="busy").exists
    )()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "text",
    [
        "[" * 1000 + "]" * 1000,
        '{"type": "ping", "x": ' + "[" * 1000 + "]" * 1000 + "}",
        '{"type": "ping", "ref": "n", "x": NaN}',
        "{" * 5000,
    ],
    ids=["1000 nested arrays", "nested in an object", "NaN", "unclosed braces"],
)
async def test_a_frame_the_server_cannot_parse_is_malformed_and_the_socket_survives(alice, text):
    socket = await open_socket(alice)
    try:
        await socket.send_to(text_data=text)

        answer = await socket.receive_json_from(timeout=TIMEOUT)

        assert (answer["type"], answer["code"]) == ("error", "malformed_frame")
        assert await still_open(socket)
    finally:
        await socket.disconnect(timeout=TIMEOUT)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("query", ["device=a%00b", "a%00b=1"])
async def test_a_socket_whose_url_holds_a_nul_is_refused_before_it_opens(alice, query):
    _, token = await database_sync_to_async(directory.token_create)(person=alice)
    communicator = WebsocketCommunicator(
        application, f"/ws/?{query}", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    try:
        is_connected, code = await communicator.connect(timeout=TIMEOUT)

        assert (is_connected, code) == (False, 4400)
    finally:
        await communicator.disconnect(timeout=TIMEOUT)
    assert not await database_sync_to_async(Endpoint.objects.exists)()
