"""A database outage is a 503 / `unavailable` answer at both edges, never a 500.

The end-to-end test (tests/e2e/test_faults_database.py) stops a real PostgreSQL; these check
the one mapping at each edge: every query fails as it does while the server restarts.
"""

import sqlite3

import psycopg
import pytest
from channels.testing import WebsocketCommunicator
from django.db import InterfaceError, OperationalError, connection
from psycopg_pool import PoolTimeout

from chat import services as chat
from config.api_errors import server_error
from config.asgi import application
from directory import services as directory
from directory.exceptions import database_unavailable

RESTARTING = "server closed the connection unexpectedly"


def _database_down(execute, sql, params, many, context):
    raise OperationalError(RESTARTING)


@pytest.mark.django_db
def test_rest_answers_503_with_retry_after_while_the_database_is_down(api_client_for, alice):
    client = api_client_for(alice)

    with connection.execute_wrapper(_database_down):
        response = client.get("/api/v1/conversations/")

    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert response.json() == {
        "error": {
            "code": "unavailable",
            "detail": response.json()["error"]["detail"],
            "retry_after_ms": 2000,
        }
    }
    assert "retry" in response.json()["error"]["detail"]


@pytest.mark.django_db
def test_a_page_answers_503_while_the_database_is_down(client, alice, settings):
    settings.PARLEY_UNAVAILABLE_RETRY_AFTER_SECONDS = 5
    client.force_login(alice)

    with connection.execute_wrapper(_database_down):
        response = client.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"


def _wrapped(error: Exception) -> OperationalError:
    """Return Django's error for a driver error, as its error wrapper raises it."""
    try:
        raise OperationalError(str(error)) from error
    except OperationalError as wrapped:
        return wrapped


def test_connection_failures_and_transient_refusals_are_outages_and_other_errors_are_not():
    assert database_unavailable(PoolTimeout("couldn't get a connection after 10.00 sec"))
    assert database_unavailable(InterfaceError("connection already closed"))
    assert database_unavailable(OperationalError(RESTARTING)).retry_after_ms == 2000
    assert database_unavailable(_wrapped(psycopg.OperationalError(RESTARTING)))
    assert database_unavailable(_wrapped(psycopg.errors.AdminShutdown("terminating connection")))
    assert database_unavailable(_wrapped(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert database_unavailable(_wrapped(sqlite3.OperationalError("database is locked")))

    assert database_unavailable(_wrapped(psycopg.errors.ProgramLimitExceeded("too long"))) is None
    assert database_unavailable(_wrapped(sqlite3.OperationalError("no such table: x"))) is None
    assert database_unavailable(ValueError("a bug")) is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_frame_gets_unavailable_with_retry_after_ms_while_the_database_is_down(
    alice, bob, monkeypatch
):
    from channels.db import database_sync_to_async

    conversation, _ = await database_sync_to_async(chat.conversation_direct_get_or_create)(
        person=alice, other=bob
    )
    _, token = await database_sync_to_async(directory.token_create)(person=alice)
    communicator = WebsocketCommunicator(
        application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await communicator.connect()
    assert connected
    try:
        await communicator.receive_json_from(timeout=5)  # hello

        def message_post_batch(**kwargs):
            raise OperationalError(RESTARTING)

        # A socket's posts are stored by the per-process committer, in batches.
        monkeypatch.setattr(chat, "message_post_batch", message_post_batch)
        await communicator.send_json_to(
            {
                "type": "message.send",
                "conversation": conversation.pk,
                "body": "hi",
                "client_id": "c1",
                "ref": "r1",
            }
        )
        frame = await communicator.receive_json_from(timeout=5)
    finally:
        await communicator.disconnect()

    assert frame == {
        "type": "error",
        "ref": "r1",
        "code": "unavailable",
        "detail": frame["detail"],
        "retry_after_ms": 2000,
    }


def test_the_server_error_handler_answers_503_for_an_outage_outside_any_view(rf):
    # Django calls handler500 inside its except block, e.g. for a session save that failed
    # in SessionMiddleware after the view.
    try:
        raise OperationalError(RESTARTING)
    except OperationalError:
        outage = server_error(rf.get("/"))
    try:
        raise KeyError("a bug")
    except KeyError:
        fault = server_error(rf.get("/"))

    assert (outage.status_code, outage["Retry-After"]) == (503, "2")
    assert fault.status_code == 500
