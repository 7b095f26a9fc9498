"""The OpenAPI schema at /api/schema/ says what the API answers (the full check is the
schemathesis run in tests/e2e/test_api_schema.py; these pin the shapes it once got wrong)."""

import pytest
from rest_framework.test import APIClient


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _answer(schema: dict, path: str, method: str, status: str) -> dict:
    content = schema["paths"][path][method]["responses"][status]["content"]
    return _resolve(schema, content["application/json"]["schema"])


def test_message_pages_and_the_directory_are_objects_with_results(schema):
    messages = _answer(schema, "/api/v1/conversations/{conversation_id}/messages/", "get", "200")
    people = _answer(schema, "/api/v1/users/", "get", "200")

    assert messages["type"] == "object"
    assert set(messages["properties"]) == {"results", "has_more", "last_seq"}
    assert messages["properties"]["results"]["type"] == "array"
    assert people["type"] == "object"
    assert people["properties"]["results"]["type"] == "array"


def test_every_operation_documents_its_error_answers(schema):
    missing = [
        f"{method.upper()} {path} {status}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        for status in ("400", "401", "403", "404")
        if status not in operation["responses"]
    ]
    error = _answer(schema, "/api/v1/rooms/", "post", "409")

    assert missing == []
    assert error["required"] == ["error"]
    assert error["properties"]["error"]["required"] == ["code", "detail"]


def test_text_the_server_refuses_blank_is_at_least_one_character_in_the_schema(schema):
    body = schema["paths"]["/api/v1/conversations/"]["post"]["requestBody"]
    request = _resolve(schema, body["content"]["application/json"]["schema"])
    case = schema["paths"]["/api/v1/archive/cases/"]["post"]["requestBody"]

    assert request["properties"]["participants"]["items"]["minLength"] == 1
    assert case["content"]["application/json"]["schema"]["properties"]["name"]["minLength"] == 1


def test_query_parameters_carry_the_bounds_the_server_enforces(schema):
    parameters = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/v1/rooms/"]["get"]["parameters"]
    }

    assert parameters["limit"]["minimum"] == 1
    assert parameters["offset"] == {"type": "integer", "minimum": 0, "maximum": 1_000_000}


def test_messages_carry_their_reply_and_reactions_and_reactions_have_their_endpoints(schema):
    message = _answer(schema, "/api/v1/messages/{message_id}/", "get", "200")
    reply_to = message["properties"]["reply_to"]
    reactions = message["properties"]["reactions"]
    post = schema["paths"]["/api/v1/conversations/{conversation_id}/messages/"]["post"]
    request = _resolve(schema, post["requestBody"]["content"]["application/json"]["schema"])
    add = schema["paths"]["/api/v1/messages/{message_id}/reactions/"]["post"]
    remove = schema["paths"]["/api/v1/messages/{message_id}/reactions/{emoji}/"]["delete"]

    quoted = _resolve(schema, reply_to.get("allOf", [reply_to])[0])
    assert set(quoted["properties"]) == {"id", "seq", "sender", "excerpt", "deleted"}
    assert reply_to.get("nullable") is True
    assert set(_resolve(schema, reactions["items"])["properties"]) == {"emoji", "count", "people"}
    assert request["properties"]["reply_to"]["type"] == "integer"
    assert {"200", "201", "400", "404"} <= set(add["responses"])
    assert {"204", "400", "404"} <= set(remove["responses"])
