"""Who may open /ws/: bearer tokens for programs, the session cookie with our Origin for browsers.

Through the full ASGI stack (config.asgi.application), as a client would meet it.
"""

import asyncio
import json
import threading
from datetime import timedelta

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from archiving.models import ArchiveRecord
from chat import committer
from chat import services as chat
from chat.models import Message, Participant
from config.asgi import application
from directory import realtime as fanout
from directory import services as directory
from directory import socket_access
from directory.models import ApiToken, Person
from directory.websocket_auth import origin_is_allowed

TIMEOUT = 5
# A browser page of the site http://127.0.0.1:8000 opening ws://127.0.0.1:8000/ws/
OUR_HOST = (b"host", b"127.0.0.1:8000")
OUR_ORIGIN = (b"origin", b"http://127.0.0.1:8000")
ALICE = {"username": "alice", "display_name": "Alice Martin"}

socket_test = pytest.mark.django_db(transaction=True)


def bearer(plaintext: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Bearer " + plaintext.encode())]


def cookie(client: Client) -> tuple[bytes, bytes]:
    name = settings.SESSION_COOKIE_NAME
    return (b"cookie", f"{name}={client.cookies[name].value}".encode())


async def receive(communicator: WebsocketCommunicator) -> dict:
    return await communicator.receive_json_from(timeout=TIMEOUT)


async def ping_pong(communicator: WebsocketCommunicator) -> None:
    await communicator.send_json_to({"type": "ping", "ref": "p"})
    assert await receive(communicator) == {"type": "pong", "ref": "p"}


@pytest_asyncio.fixture
async def connect(transactional_db):
    """Attempt a /ws/ handshake; return (accepted, close code or None, communicator)."""
    opened: list[WebsocketCommunicator] = []

    async def connect_(headers: list[tuple[bytes, bytes]], path: str = "/ws/"):
        communicator = WebsocketCommunicator(application, path, headers=headers)
        opened.append(communicator)
        is_accepted, detail = await communicator.connect(timeout=TIMEOUT)
        return is_accepted, (None if is_accepted else detail), communicator

    yield connect_
    for communicator in opened:
        await communicator.disconnect(timeout=TIMEOUT)


@pytest_asyncio.fixture
async def signed_in(connect):
    """Open an accepted socket and read its hello."""

    async def signed_in_(headers: list[tuple[bytes, bytes]]):
        is_accepted, code, communicator = await connect(headers)
        assert is_accepted, f"refused with close code {code}"
        hello = await receive(communicator)
        assert hello["type"] == "hello"
        return communicator, hello

    return signed_in_


@pytest.fixture
def alice_token(alice):
    return directory.token_create(person=alice)


@pytest.fixture
def alice_browser(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def direct(alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    return conversation


@pytest_asyncio.fixture
async def bob_listening(signed_in, bob, direct):
    """Bob's open socket in his direct conversation with alice: refusals must not reach it."""
    _, plaintext = await database_sync_to_async(directory.token_create)(person=bob)
    communicator, _ = await signed_in(bearer(plaintext))
    return communicator


async def assert_refused(connect, headers, code: int, bob_listening, path: str = "/ws/") -> None:
    """The handshake is refused with the code, nothing else is said, nothing is written."""
    messages_before = await database_sync_to_async(Message.objects.count)()

    is_accepted, close_code, communicator = await connect(headers, path)

    assert (is_accepted, close_code) == (False, code)
    assert await communicator.receive_nothing(timeout=0.2)
    assert await bob_listening.receive_nothing(timeout=0.2)
    assert await database_sync_to_async(Message.objects.count)() == messages_before


# -- refused -------------------------------------------------------------------------------


@socket_test
@pytest.mark.asyncio
async def test_a_socket_without_credentials_is_refused(connect, bob_listening):
    # a program with nothing, and a browser page without a session
    await assert_refused(connect, [], 4401, bob_listening)
    await assert_refused(connect, [OUR_HOST, OUR_ORIGIN], 4401, bob_listening)


@socket_test
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer prl_not-a-token-we-issued",
        b"Bearer ",
        b"Basic YWxpY2U6c2VjcmV0",
        b"prl_no-scheme",
    ],
    ids=["unknown", "empty", "basic", "no-scheme"],
)
async def test_a_socket_with_an_unusable_authorization_header_is_refused(
    connect, bob_listening, authorization
):
    await assert_refused(connect, [(b"authorization", authorization)], 4401, bob_listening)


@socket_test
@pytest.mark.asyncio
async def test_a_socket_with_a_revoked_token_is_refused(connect, bob_listening, alice_token):
    token, plaintext = alice_token
    await database_sync_to_async(directory.token_revoke)(token=token)

    await assert_refused(connect, bearer(plaintext), 4401, bob_listening)


@socket_test
@pytest.mark.asyncio
async def test_a_socket_with_the_token_of_a_deactivated_person_is_refused(
    connect, bob_listening, alice, alice_token
):
    await database_sync_to_async(directory.person_deactivate)(person=alice)

    await assert_refused(connect, bearer(alice_token[1]), 4401, bob_listening)


@socket_test
@pytest.mark.asyncio
async def test_a_token_in_the_query_string_is_not_accepted(connect, bob_listening, alice_token):
    plaintext = alice_token[1]
    path = f"/ws/?token={plaintext}&access_token={plaintext}&authorization=Bearer%20{plaintext}"

    # read as a program without credentials, or as a browser page without a session
    await assert_refused(connect, [], 4401, bob_listening, path)
    await assert_refused(connect, [OUR_HOST, OUR_ORIGIN], 4401, bob_listening, path)
    await assert_refused(connect, [(b"authorization", b"Bearer")], 4401, bob_listening, path)


@socket_test
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "origin",
    [
        [(b"origin", b"https://evil.example")],
        [(b"origin", b"http://127.0.0.1.evil.example")],
        [(b"origin", b"null")],
        [],
        [(b"origin", b"http://127.0.0.1:9999")],
        [(b"origin", b"https://127.0.0.1:8000")],
        [(b"origin", b"http://127.0.0.1")],
        [(b"origin", b"https://localhost")],
        [(b"origin", b"http://localhost:8000")],
    ],
    ids=[
        "foreign",
        "lookalike",
        "null",
        "missing",
        "other-port",
        "other-scheme",
        "default-port",
        "other-host-scheme-port",
        "other-host",
    ],
)
async def test_a_session_cookie_without_our_origin_is_refused(
    connect, bob_listening, alice_browser, origin
):
    await assert_refused(connect, [cookie(alice_browser), OUR_HOST, *origin], 4403, bob_listening)


@socket_test
@pytest.mark.asyncio
async def test_a_session_cookie_on_a_host_that_is_not_ours_is_refused(
    connect, bob_listening, alice_browser
):
    # DNS rebinding: the page and the socket agree, but the name is not one of ALLOWED_HOSTS
    site = [(b"host", b"evil.example:8000"), (b"origin", b"http://evil.example:8000")]

    await assert_refused(connect, [cookie(alice_browser), *site], 4403, bob_listening)


@socket_test
@pytest.mark.asyncio
async def test_a_session_cookie_of_a_signed_out_browser_is_refused(
    connect, bob_listening, alice_browser
):
    stale = cookie(alice_browser)
    await database_sync_to_async(alice_browser.logout)()

    await assert_refused(connect, [stale, OUR_HOST, OUR_ORIGIN], 4401, bob_listening)


# -- accepted ------------------------------------------------------------------------------


@socket_test
@pytest.mark.asyncio
async def test_a_bearer_token_is_accepted_without_an_origin(signed_in, direct, alice_token):
    communicator, hello = await signed_in(bearer(alice_token[1]))

    assert hello["user"] == ALICE
    assert [c["id"] for c in hello["conversations"]] == [direct.pk]
    await ping_pong(communicator)


@socket_test
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("host", "origin"),
    [
        (b"127.0.0.1:8000", b"http://127.0.0.1:8000"),
        (b"127.0.0.1", b"http://127.0.0.1"),
        (b"localhost:8000", b"http://localhost:8000"),
        (b"[::1]:8000", b"http://[::1]:8000"),
    ],
)
async def test_a_session_cookie_with_our_origin_is_accepted(
    signed_in, direct, alice_browser, host, origin
):
    communicator, hello = await signed_in(
        [cookie(alice_browser), (b"host", host), (b"origin", origin)]
    )

    assert hello["user"] == ALICE
    assert [c["id"] for c in hello["conversations"]] == [direct.pk]
    await ping_pong(communicator)


@socket_test
@pytest.mark.asyncio
async def test_behind_a_tls_proxy_only_the_https_origin_is_ours(
    settings, connect, signed_in, bob_listening, alice_browser
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    proxied = [
        cookie(alice_browser),
        (b"host", b"chat.example.com"),
        (b"x-forwarded-proto", b"https"),
    ]

    _, hello = await signed_in([*proxied, (b"origin", b"https://chat.example.com")])
    assert hello["user"] == ALICE
    await assert_refused(
        connect, [*proxied, (b"origin", b"http://chat.example.com")], 4403, bob_listening
    )


@socket_test
@pytest.mark.asyncio
async def test_a_session_cookie_with_a_trusted_origin_is_accepted(
    signed_in, settings, alice_browser
):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com"]

    _, hello = await signed_in([cookie(alice_browser), (b"origin", b"https://chat.example.com")])

    assert hello["user"] == ALICE


# -- closed when the credentials end -------------------------------------------------------


@socket_test
@pytest.mark.asyncio
async def test_signing_out_closes_that_browsers_sockets_only(
    signed_in, alice, alice_browser, alice_token
):
    session_ws, _ = await signed_in([cookie(alice_browser), OUR_HOST, OUR_ORIGIN])
    other_browser = Client()
    await database_sync_to_async(other_browser.force_login)(alice)
    other_session_ws, _ = await signed_in([cookie(other_browser), OUR_HOST, OUR_ORIGIN])
    program_ws, _ = await signed_in(bearer(alice_token[1]))

    response = await database_sync_to_async(lambda: alice_browser.post("/logout/"))()

    assert response.status_code == 302
    assert await session_ws.receive_output(timeout=TIMEOUT) == {
        "type": "websocket.close",
        "code": 4401,
    }
    await ping_pong(other_session_ws)
    await ping_pong(program_ws)


@socket_test
@pytest.mark.asyncio
async def test_deactivating_a_person_closes_all_their_sockets(
    signed_in, alice, bob, alice_browser, alice_token
):
    _, bob_plaintext = await database_sync_to_async(directory.token_create)(person=bob)
    bob_ws, _ = await signed_in(bearer(bob_plaintext))
    session_ws, _ = await signed_in([cookie(alice_browser), OUR_HOST, OUR_ORIGIN])
    program_ws, _ = await signed_in(bearer(alice_token[1]))

    await database_sync_to_async(directory.person_deactivate)(person=alice)

    for communicator in (session_ws, program_ws):
        assert await communicator.receive_output(timeout=TIMEOUT) == CLOSED_FORBIDDEN
    await ping_pong(bob_ws)


# -- closed however the credentials end: the socket side checks (directory/socket_access.py) --

CLOSED_FORBIDDEN = {"type": "websocket.close", "code": 4403}
CLOSED_UNAUTHENTICATED = {"type": "websocket.close", "code": 4401}


async def sweep() -> int:
    """Run this process's access sweep now (as its periodic task does)."""
    return await socket_access.sockets_sweep(await fanout.hub_get())


@pytest.fixture
def no_periodic_sweep(settings):
    """Leave the sweeping to the test, so that what closes a socket is the path under test."""
    settings.PARLEY_WS_ACCESS_SWEEP_SECONDS = 3600


@socket_test
@pytest.mark.asyncio
async def test_a_plain_save_deactivating_a_person_refuses_their_next_frame_and_stores_nothing(
    no_periodic_sweep, signed_in, alice, direct, alice_browser, alice_token, bob_listening
):
    session_ws, _ = await signed_in([cookie(alice_browser), OUR_HOST, OUR_ORIGIN])
    program_ws, _ = await signed_in(bearer(alice_token[1]))

    # when alice is deactivated behind every service's back, then posts on both sockets
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    for ref, communicator in (("s", session_ws), ("p", program_ws)):
        await communicator.send_json_to(
            {"type": "message.send", "conversation": direct.pk, "body": "still here?", "ref": ref}
        )

        # then each socket closes with 4403 instead of an ack
        assert await communicator.receive_output(timeout=TIMEOUT) == CLOSED_FORBIDDEN
    assert await database_sync_to_async(Message.objects.count)() == 0
    assert await bob_listening.receive_nothing(timeout=0.2)


def _data_frame(kind: str, conversation_id: int, message_id: int) -> dict:
    return {
        "message.edit": {"type": "message.edit", "id": message_id, "body": "changed"},
        "message.delete": {"type": "message.delete", "id": message_id},
        "read": {"type": "read", "conversation": conversation_id, "seq": 1},
        "sync": {"type": "sync", "conversation": conversation_id, "after_seq": 0},
    }[kind] | {"ref": kind}


@socket_test
@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["message.edit", "message.delete", "read", "sync"])
async def test_a_plain_save_deactivation_refuses_every_data_frame_and_changes_nothing(
    kind, no_periodic_sweep, signed_in, alice, bob, direct, alice_token, bob_listening
):
    # given a message of alice's that bob has not read, and alice's open socket
    message, _ = await database_sync_to_async(chat.message_post)(
        sender=alice, conversation_id=direct.pk, body="before", client_id="b"
    )
    assert (await receive(bob_listening))["type"] == "message.new"
    program_ws, _ = await signed_in(bearer(alice_token[1]))
    await database_sync_to_async(Participant.objects.filter(person=alice).update)(last_read_seq=0)
    records_before = await database_sync_to_async(ArchiveRecord.objects.count)()

    # when alice is deactivated behind every service's back, then sends the frame
    alice.is_active = False
    await database_sync_to_async(alice.save)()
    await program_ws.send_json_to(_data_frame(kind, direct.pk, message.pk))

    # then the socket closes with 4403 and nothing was answered, changed or broadcast
    assert await program_ws.receive_output(timeout=TIMEOUT) == CLOSED_FORBIDDEN
    stored = await database_sync_to_async(Message.objects.get)(pk=message.pk)
    assert (stored.body, stored.deleted_at, stored.edited_at) == ("before", None, None)
    participation = await database_sync_to_async(Participant.objects.get)(
        person=alice, conversation=direct
    )
    assert participation.last_read_seq == 0
    assert await database_sync_to_async(ArchiveRecord.objects.count)() == records_before
    assert await bob_listening.receive_nothing(timeout=0.2)


@socket_test
@pytest.mark.asyncio
async def test_a_deactivated_persons_post_in_a_batch_is_refused_and_the_others_are_stored(
    no_periodic_sweep,
    settings,
    monkeypatch,
    signed_in,
    alice,
    bob,
    direct,
    alice_token,
    bob_listening,
):
    """The committer checks every socket of a batch in one query before writing it."""
    settings.PARLEY_POST_WRITERS = 1
    committer.committer_reset()
    started, release = threading.Event(), threading.Event()
    real_batch = chat.message_post_batch

    def held_batch(*, requests):
        started.set()
        release.wait(TIMEOUT)
        return real_batch(requests=requests)

    monkeypatch.setattr(chat, "message_post_batch", held_batch)
    try:
        program_ws, _ = await signed_in(bearer(alice_token[1]))
        _, bob_plaintext = await database_sync_to_async(directory.token_create)(person=bob)
        bob_ws, _ = await signed_in(bearer(bob_plaintext))
        # a post of bob's holds the writer; alice's and bob's next posts queue behind it
        await bob_listening.send_json_to(
            {"type": "message.send", "conversation": direct.pk, "body": "b1", "ref": "b1"}
        )
        assert await asyncio.to_thread(started.wait, TIMEOUT)
        alice.is_active = False
        await database_sync_to_async(alice.save)()
        await program_ws.send_json_to(
            {"type": "message.send", "conversation": direct.pk, "body": "a1", "ref": "a1"}
        )
        await bob_ws.send_json_to(
            {"type": "message.send", "conversation": direct.pk, "body": "b2", "ref": "b2"}
        )
        async with asyncio.timeout(TIMEOUT):
            while committer.committer_get().pending < 2:
                await asyncio.sleep(0.01)
        release.set()

        # then alice's socket closes without an ack (it may see bob's posts go by until then:
        # a socket that only listens is closed by the sweep), and bob's two posts are stored
        before_close = []
        while (output := await program_ws.receive_output(timeout=TIMEOUT)) != CLOSED_FORBIDDEN:
            before_close.append(json.loads(output["text"]))
        assert {f["type"] for f in before_close} <= {"message.new"}
        frames = [await receive(ws) for ws in (bob_listening, bob_ws) for _ in range(3)]
        acks = sorted(f["ref"] for f in frames if f["type"] == "message.ack")
        assert acks == ["b1", "b2"]
        bodies = await database_sync_to_async(
            lambda: list(Message.objects.order_by("seq").values_list("body", "seq"))
        )()
        assert bodies == [("b1", 1), ("b2", 2)]
    finally:
        release.set()
        committer.committer_reset()


@socket_test
@pytest.mark.asyncio
async def test_the_sweep_closes_listening_sockets_of_a_person_deactivated_by_an_update(
    no_periodic_sweep, signed_in, alice, alice_browser, alice_token, bob_listening
):
    session_ws, _ = await signed_in([cookie(alice_browser), OUR_HOST, OUR_ORIGIN])
    program_ws, _ = await signed_in(bearer(alice_token[1]))
    await database_sync_to_async(Person.objects.filter(pk=alice.pk).update)(is_active=False)

    assert await sweep() == 2

    for communicator in (session_ws, program_ws):
        assert await communicator.receive_output(timeout=TIMEOUT) == CLOSED_FORBIDDEN
    await ping_pong(bob_listening)


@socket_test
@pytest.mark.asyncio
async def test_each_server_process_sweeps_by_itself(settings, signed_in, alice, alice_token):
    settings.PARLEY_WS_ACCESS_SWEEP_SECONDS = 0.1
    program_ws, _ = await signed_in(bearer(alice_token[1]))

    alice.is_active = False
    await database_sync_to_async(alice.save)()

    # nobody pushes and the socket sends nothing: the process's own sweep closes it
    assert await program_ws.receive_output(timeout=TIMEOUT) == CLOSED_FORBIDDEN


@socket_test
@pytest.mark.asyncio
async def test_a_token_revoked_by_an_update_closes_its_sockets_only(
    no_periodic_sweep, signed_in, alice, alice_browser, alice_token
):
    session_ws, _ = await signed_in([cookie(alice_browser), OUR_HOST, OUR_ORIGIN])
    program_ws, _ = await signed_in(bearer(alice_token[1]))
    await database_sync_to_async(ApiToken.objects.filter(pk=alice_token[0].pk).update)(
        revoked_at=timezone.now()
    )

    assert await sweep() == 1

    assert await program_ws.receive_output(timeout=TIMEOUT) == CLOSED_UNAUTHENTICATED
    await ping_pong(session_ws)


@socket_test
@pytest.mark.asyncio
async def test_a_browser_session_ended_elsewhere_closes_its_sockets_only(
    no_periodic_sweep, signed_in, alice, alice_browser, alice_token
):
    session_ws, _ = await signed_in([cookie(alice_browser), OUR_HOST, OUR_ORIGIN])
    program_ws, _ = await signed_in(bearer(alice_token[1]))
    # the session is flushed without a sign-out on this site (expired, or cleared by an admin)
    key = alice_browser.cookies[settings.SESSION_COOKIE_NAME].value
    await database_sync_to_async(Session.objects.filter(session_key=key).delete)()

    assert await sweep() == 1

    assert await session_ws.receive_output(timeout=TIMEOUT) == CLOSED_UNAUTHENTICATED
    await ping_pong(program_ws)


@socket_test
@pytest.mark.asyncio
async def test_a_token_past_its_maximum_age_closes_its_socket_and_opens_no_other(
    no_periodic_sweep, settings, connect, signed_in, alice, alice_token, bob_listening
):
    settings.PARLEY_TOKEN_MAX_AGE_SECONDS = 3600
    program_ws, _ = await signed_in(bearer(alice_token[1]))
    await database_sync_to_async(ApiToken.objects.filter(pk=alice_token[0].pk).update)(
        created_at=timezone.now() - timedelta(seconds=3601)
    )

    assert await sweep() == 1

    assert await program_ws.receive_output(timeout=TIMEOUT) == CLOSED_UNAUTHENTICATED
    await assert_refused(connect, bearer(alice_token[1]), 4401, bob_listening)


@socket_test
@pytest.mark.asyncio
async def test_a_frame_on_a_token_idle_too_long_closes_the_socket(
    no_periodic_sweep, settings, signed_in, alice, direct, alice_token
):
    settings.PARLEY_TOKEN_IDLE_SECONDS = 3600
    program_ws, _ = await signed_in(bearer(alice_token[1]))
    long_ago = timezone.now() - timedelta(seconds=3601)
    await database_sync_to_async(ApiToken.objects.filter(pk=alice_token[0].pk).update)(
        created_at=long_ago, last_used_at=long_ago
    )

    await program_ws.send_json_to({"type": "sync", "conversation": direct.pk, "ref": "s"})

    assert await program_ws.receive_output(timeout=TIMEOUT) == CLOSED_UNAUTHENTICATED


@socket_test
@pytest.mark.asyncio
async def test_an_open_socket_keeps_its_token_from_going_idle(
    no_periodic_sweep, settings, signed_in, alice, alice_token
):
    settings.PARLEY_TOKEN_IDLE_SECONDS = 3600
    program_ws, _ = await signed_in(bearer(alice_token[1]))
    a_while_ago = timezone.now() - timedelta(seconds=600)
    await database_sync_to_async(ApiToken.objects.filter(pk=alice_token[0].pk).update)(
        last_used_at=a_while_ago
    )

    assert await sweep() == 0

    token = await database_sync_to_async(ApiToken.objects.get)(pk=alice_token[0].pk)
    assert token.last_used_at > a_while_ago + timedelta(seconds=590)
    await ping_pong(program_ws)


# -- origin_is_allowed ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "host", "is_secure", "is_allowed"),
    [
        # a site on http://127.0.0.1:8000
        ("http://127.0.0.1:8000", "127.0.0.1:8000", False, True),
        ("http://127.0.0.1:8000/", "127.0.0.1:8000", False, True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", False, False),
        ("https://127.0.0.1:8000", "127.0.0.1:8000", False, False),
        ("http://127.0.0.1", "127.0.0.1:8000", False, False),
        ("https://localhost", "127.0.0.1:8000", False, False),
        ("http://localhost:8000", "127.0.0.1:8000", False, False),
        # default ports are the same origin written two ways
        ("http://127.0.0.1", "127.0.0.1", False, True),
        ("http://127.0.0.1:80", "127.0.0.1", False, True),
        ("https://localhost", "localhost", True, True),
        ("https://localhost:443", "localhost", True, True),
        ("http://localhost", "localhost", True, False),
        ("HTTP://LOCALHOST:8000", "localhost:8000", False, True),
        ("http://[::1]:8000", "[::1]:8000", False, True),
        # the Host must be one of ALLOWED_HOSTS, and present
        ("http://evil.example", "evil.example", False, False),
        ("http://127.0.0.1:8000", "", False, False),
        # trusted through CSRF_TRUSTED_ORIGINS, on any Host
        ("https://chat.example.com", "127.0.0.1:8000", False, True),
        ("https://chat.example.com:443", "127.0.0.1:8000", False, True),
        ("http://chat.example.com", "127.0.0.1:8000", False, False),
        ("https://chat.example.com:8443", "127.0.0.1:8000", False, False),
        ("https://eu.parley.example", "127.0.0.1:8000", False, True),
        ("https://parley.example.evil", "127.0.0.1:8000", False, False),
        # not origins at all
        ("https://evil.example", "127.0.0.1:8000", False, False),
        ("https://localhost.evil.example", "localhost", True, False),
        ("null", "127.0.0.1:8000", False, False),
        ("", "127.0.0.1:8000", False, False),
        ("file:///tmp/page.html", "127.0.0.1:8000", False, False),
        ("ws://127.0.0.1:8000", "127.0.0.1:8000", False, False),
        ("http://127.0.0.1:99999", "127.0.0.1:8000", False, False),
    ],
)
def test_origin_is_allowed_compares_scheme_host_and_port(
    settings, origin, host, is_secure, is_allowed
):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.parley.example"]

    assert origin_is_allowed(origin, host=host, is_secure=is_secure) is is_allowed


@pytest.mark.django_db
def test_the_batch_check_says_what_the_one_socket_check_says_in_one_query(
    django_assert_num_queries, alice, bob, carol
):
    from directory import selectors

    alice_token, _ = directory.token_create(person=alice)
    bob_token, _ = directory.token_create(person=bob)
    revoked, _ = directory.token_create(person=bob)
    ApiToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    carol_token, _ = directory.token_create(person=carol)
    Person.objects.filter(pk=carol.pk).update(is_active=False)
    sockets = {
        (alice.pk, alice_token.pk),
        (bob.pk, bob_token.pk),
        (bob.pk, revoked.pk),
        (carol.pk, carol_token.pk),
        (alice.pk, None),  # a browser session
        (carol.pk, None),
    }

    with django_assert_num_queries(2):  # tokens, then the session sockets' people
        assert selectors.sockets_access_ended(credentials={(alice.pk, alice_token.pk)}) == {}
        assert selectors.sockets_access_ended(credentials={(alice.pk, None)}) == {}
    ended = selectors.sockets_access_ended(credentials=sockets)

    expected = {
        (person, token): selectors.socket_access_ended(person_id=person, token_id=token)
        for person, token in sockets
    }
    assert ended == {key: reason for key, reason in expected.items() if reason is not None}
    assert ended == {
        (bob.pk, revoked.pk): selectors.TOKEN_ENDED,
        (carol.pk, carol_token.pk): selectors.PERSON_DEACTIVATED,
        (carol.pk, None): selectors.PERSON_DEACTIVATED,
    }
