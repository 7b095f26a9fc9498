"""The /ws/ consumer through the full ASGI stack (auth middleware, routing, fan-out hub).

Every test runs on one event loop: the communicators, the hub of that loop and the REST calls,
which go through database_sync_to_async so their on_commit broadcasts (async_to_sync) land on
this loop's in-memory channel layer and hub.
"""

import json

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from archiving.models import ArchiveRecord
from chat import services as chat
from chat.models import Conversation, Message
from config.asgi import application
from directory import services as directory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 5
ALICE = {"username": "alice", "display_name": "Alice Martin"}
BOB = {"username": "bob", "display_name": "Bob Chen"}
CAROL = {"username": "carol", "display_name": "Carol Diaz"}


def bearer(plaintext: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"Bearer " + plaintext.encode())]


async def receive(communicator: WebsocketCommunicator, count: int = 1) -> list[dict]:
    """Return the next count frames, in the order the socket got them."""
    return [await communicator.receive_json_from(timeout=TIMEOUT) for _ in range(count)]


async def receive_by_type(communicator: WebsocketCommunicator, count: int) -> dict[str, dict]:
    """Return the next count frames keyed by type (for frames whose order is not defined)."""
    frames = await receive(communicator, count)
    by_type = {frame["type"]: frame for frame in frames}
    assert len(by_type) == count, frames
    return by_type


async def assert_silent(communicator: WebsocketCommunicator) -> None:
    """Assert that nothing more arrives on the socket (the fan-out is given time to run)."""
    assert await communicator.receive_nothing(timeout=0.3), await communicator.receive_output()


async def ping_pong(communicator: WebsocketCommunicator, ref: str = "still-open") -> None:
    await communicator.send_json_to({"type": "ping", "ref": ref})
    assert await receive(communicator) == [{"type": "pong", "ref": ref}]


def error_frame(code: str, ref=None) -> dict:
    """The expected error frame (any non-empty detail)."""
    frame = {"type": "error", "code": code, "detail": NonEmptyText()}
    if ref is not None:
        frame["ref"] = ref
    return frame


class NonEmptyText:
    def __eq__(self, other) -> bool:
        return isinstance(other, str) and bool(other.strip())

    def __repr__(self) -> str:
        return "<non-empty text>"


class Timestamp:
    """An ISO 8601 UTC timestamp as the contract writes it (ending in Z)."""

    def __eq__(self, other) -> bool:
        return isinstance(other, str) and other.endswith("Z") and "T" in other

    def __repr__(self) -> str:
        return "<UTC timestamp>"


@database_sync_to_async
def message_count() -> int:
    return Message.objects.count()


@database_sync_to_async
def archive_events(conversation_id: int) -> list[tuple[str, str, int | None]]:
    return list(
        ArchiveRecord.objects.filter(conversation_id=conversation_id)
        .order_by("chain_index")
        .values_list("event", "body", "message_id")
    )


@database_sync_to_async
def message_get(message_id: int) -> Message:
    return Message.objects.get(pk=message_id)


@pytest_asyncio.fixture
async def open_socket(transactional_db):
    """Open an accepted /ws/ socket and read its hello; every socket is disconnected after."""
    opened: list[WebsocketCommunicator] = []

    async def open_(headers: list[tuple[bytes, bytes]]) -> tuple[WebsocketCommunicator, dict]:
        communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
        opened.append(communicator)
        is_connected, detail = await communicator.connect(timeout=TIMEOUT)
        assert is_connected, f"refused with close code {detail}"
        hello = await communicator.receive_json_from(timeout=TIMEOUT)
        assert hello["type"] == "hello"
        return communicator, hello

    yield open_
    for communicator in opened:
        await communicator.disconnect(timeout=TIMEOUT)


@pytest.fixture
def as_alice(alice):
    return bearer(directory.token_create(person=alice)[1])


@pytest.fixture
def as_bob(bob):
    return bearer(directory.token_create(person=bob)[1])


@pytest.fixture
def as_carol(carol):
    return bearer(directory.token_create(person=carol)[1])


@pytest.fixture
def direct(alice, bob) -> Conversation:
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    return conversation


@pytest.fixture
def bob_and_carol(bob, carol) -> Conversation:
    conversation, _ = chat.conversation_direct_get_or_create(person=bob, other=carol)
    return conversation


async def send_message(communicator, conversation_id: int, body: str, ref: str, **extra) -> None:
    await communicator.send_json_to(
        {"type": "message.send", "ref": ref, "conversation": conversation_id, "body": body, **extra}
    )


# -- hello ---------------------------------------------------------------------------------


async def test_hello_lists_my_conversations_with_last_seq_and_unread(
    open_socket, alice, bob, carol, direct, bob_and_carol, as_alice
):
    # given two messages from bob to alice and a group alice is in
    for n in (1, 2):
        await database_sync_to_async(chat.message_post)(
            sender=bob, conversation_id=direct.pk, body=f"hi {n}", client_id=f"c{n}"
        )
    group, _ = await database_sync_to_async(chat.conversation_create)(
        creator=carol, usernames=["alice", "bob"], title="Lunch"
    )

    # when alice connects
    _, hello = await open_socket(as_alice)

    # then hello names her, and lists her conversations (not bob and carol's) with read state
    assert hello["user"] == ALICE
    conversations = {c["id"]: c for c in hello["conversations"]}
    assert set(conversations) == {direct.pk, group.pk}
    assert conversations[direct.pk]["kind"] == "direct"
    assert conversations[direct.pk]["participants"] == [ALICE, BOB]
    assert conversations[direct.pk]["last_seq"] == 2
    assert conversations[direct.pk]["last_read_seq"] == 0
    assert conversations[direct.pk]["unread"] == 2
    assert conversations[group.pk]["kind"] == "group"
    assert conversations[group.pk]["title"] == "Lunch"
    assert conversations[group.pk]["last_seq"] == 0
    assert conversations[group.pk]["unread"] == 0
    # newest activity first
    assert [c["id"] for c in hello["conversations"]] == [direct.pk, group.pk]


# -- message.send --------------------------------------------------------------------------


async def test_message_send_acks_the_sender_and_delivers_message_new_to_the_other(
    open_socket, direct, as_alice, as_bob
):
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)

    await send_message(alice_ws, direct.pk, "Hello Bob", "r1", client_id="c-1")

    frames = await receive_by_type(alice_ws, 2)  # her own tabs get message.new too
    stored = await database_sync_to_async(Message.objects.get)()
    assert frames["message.ack"] == {
        "type": "message.ack",
        "ref": "r1",
        "id": stored.pk,
        "seq": 1,
        "conversation": direct.pk,
        "client_id": "c-1",
    }
    expected_message = {
        "id": stored.pk,
        "conversation": direct.pk,
        "seq": 1,
        "sender": ALICE,
        "body": "Hello Bob",
        "created_at": Timestamp(),
        "edited_at": None,
        "deleted": False,
        "client_id": "c-1",
        "delivery_error": None,
        "removed_by": None,
        "file": None,
        "reply_to": None,
        "reactions": [],
    }
    assert await receive(bob_ws) == [{"type": "message.new", "message": expected_message}]
    assert frames["message.new"] == {"type": "message.new", "message": expected_message}
    assert (stored.body, stored.seq, stored.client_id) == ("Hello Bob", 1, "c-1")
    await assert_silent(alice_ws)
    await assert_silent(bob_ws)


async def test_message_send_without_client_id_gets_one_from_the_server(
    open_socket, direct, as_alice
):
    alice_ws, _ = await open_socket(as_alice)

    await send_message(alice_ws, direct.pk, "no id", "r1")

    ack = (await receive_by_type(alice_ws, 2))["message.ack"]
    stored = await message_get(ack["id"])
    assert ack["client_id"] == stored.client_id
    assert len(stored.client_id) == 32


async def test_seq_increments_without_gaps_and_a_refused_send_takes_no_seq(
    open_socket, direct, as_alice, as_bob
):
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)

    acks = []
    for n, body in enumerate(["one", "   ", "two", "three"]):
        await send_message(alice_ws, direct.pk, body, f"r{n}", client_id=f"c{n}")
        if body.strip():
            acks.append((await receive_by_type(alice_ws, 2))["message.ack"])
        else:
            assert await receive(alice_ws) == [error_frame("empty_message", f"r{n}")]

    assert [ack["seq"] for ack in acks] == [1, 2, 3]
    delivered = await receive(bob_ws, 3)
    assert [(f["message"]["seq"], f["message"]["body"]) for f in delivered] == [
        (1, "one"),
        (2, "two"),
        (3, "three"),
    ]
    stored = await database_sync_to_async(
        lambda: list(Message.objects.order_by("seq").values_list("seq", flat=True))
    )()
    assert stored == [1, 2, 3]
    conversation = await database_sync_to_async(Conversation.objects.get)(pk=direct.pk)
    assert conversation.last_seq == 3
    await assert_silent(bob_ws)


async def test_message_send_retry_with_the_same_client_id_acks_the_stored_message(
    open_socket, direct, as_alice, as_bob
):
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    await send_message(alice_ws, direct.pk, "once", "first", client_id="same")
    first = (await receive_by_type(alice_ws, 2))["message.ack"]
    assert (await receive(bob_ws))[0]["message"]["id"] == first["id"]

    # when the client retries (it never saw the ack)
    await send_message(alice_ws, direct.pk, "once", "retry", client_id="same")

    # then the ack names the stored message, nothing new is stored or broadcast
    assert await receive(alice_ws) == [
        {
            "type": "message.ack",
            "ref": "retry",
            "id": first["id"],
            "seq": first["seq"],
            "conversation": direct.pk,
            "client_id": "same",
        }
    ]
    assert await message_count() == 1
    await assert_silent(bob_ws)
    await assert_silent(alice_ws)


async def test_message_send_to_a_conversation_i_am_not_in_is_refused(
    open_socket, direct, bob_and_carol, as_alice, as_bob, as_carol
):
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    carol_ws, _ = await open_socket(as_carol)
    records_before = await database_sync_to_async(ArchiveRecord.objects.count)()

    for ref, conversation_id in (("theirs", bob_and_carol.pk), ("missing", 999_999)):
        await send_message(alice_ws, conversation_id, "let me in", ref)
        assert await receive(alice_ws) == [error_frame("conversation_not_found", ref)]

    assert await message_count() == 0
    assert await database_sync_to_async(ArchiveRecord.objects.count)() == records_before
    await assert_silent(bob_ws)
    await assert_silent(carol_ws)
    await ping_pong(alice_ws)


# -- message.edit / message.delete ---------------------------------------------------------


async def test_message_edit_broadcasts_the_update_and_the_archive_keeps_the_original(
    open_socket, direct, as_alice, as_bob
):
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    await send_message(alice_ws, direct.pk, "original text", "send", client_id="c1")
    message_id = (await receive_by_type(alice_ws, 2))["message.ack"]["id"]
    await receive(bob_ws)

    await alice_ws.send_json_to(
        {"type": "message.edit", "ref": "edit", "id": message_id, "body": "edited text"}
    )

    frames = await receive_by_type(alice_ws, 2)
    assert frames["message.ack"] == {
        "type": "message.ack",
        "ref": "edit",
        "id": message_id,
        "seq": 1,
        "conversation": direct.pk,
        "client_id": "c1",
    }
    updated = {
        "type": "message.updated",
        "message": {
            "id": message_id,
            "conversation": direct.pk,
            "seq": 1,
            "sender": ALICE,
            "body": "edited text",
            "created_at": Timestamp(),
            "edited_at": Timestamp(),
            "deleted": False,
            "client_id": "c1",
            "delivery_error": None,
            "removed_by": None,
            "file": None,
            "reply_to": None,
            "reactions": [],
        },
    }
    assert frames["message.updated"] == updated
    assert await receive(bob_ws) == [updated]
    assert (await message_get(message_id)).body == "edited text"
    assert await archive_events(direct.pk) == [
        ("conversation.created", "", None),
        ("message.posted", "original text", message_id),
        ("message.edited", "edited text", message_id),
    ]
    await assert_silent(bob_ws)


async def test_message_delete_broadcasts_deleted_and_the_archive_keeps_the_text(
    open_socket, direct, as_alice, as_bob
):
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    await send_message(alice_ws, direct.pk, "regrettable", "send", client_id="c1")
    message_id = (await receive_by_type(alice_ws, 2))["message.ack"]["id"]
    await receive(bob_ws)

    await alice_ws.send_json_to({"type": "message.delete", "ref": "del", "id": message_id})

    frames = await receive_by_type(alice_ws, 2)
    assert frames["message.ack"]["ref"] == "del"
    assert frames["message.ack"]["id"] == message_id
    [update] = await receive(bob_ws)
    assert update == frames["message.updated"]
    assert update["type"] == "message.updated"
    assert update["message"]["id"] == message_id
    assert update["message"]["deleted"] is True
    assert update["message"]["body"] == ""
    stored = await message_get(message_id)
    assert (stored.body, stored.deleted_at is not None) == ("", True)
    assert await archive_events(direct.pk) == [
        ("conversation.created", "", None),
        ("message.posted", "regrettable", message_id),
        ("message.deleted", "", message_id),
    ]

    # a deleted message cannot be edited back to life
    await alice_ws.send_json_to(
        {"type": "message.edit", "ref": "again", "id": message_id, "body": "back"}
    )
    assert await receive(alice_ws) == [error_frame("message_deleted", "again")]
    await assert_silent(bob_ws)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "message.edit", "body": "not yours"},
        {"type": "message.delete"},
    ],
    ids=["edit", "delete"],
)
async def test_changing_someone_elses_message_is_refused_with_not_sender(
    open_socket, direct, as_alice, as_bob, frame
):
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    await send_message(alice_ws, direct.pk, "alice wrote this", "send", client_id="c1")
    message_id = (await receive_by_type(alice_ws, 2))["message.ack"]["id"]
    await receive(bob_ws)
    archive_before = await archive_events(direct.pk)

    await bob_ws.send_json_to({**frame, "ref": "bad", "id": message_id})

    assert await receive(bob_ws) == [error_frame("not_sender", "bad")]
    stored = await message_get(message_id)
    assert (stored.body, stored.edited_at, stored.deleted_at) == ("alice wrote this", None, None)
    assert await archive_events(direct.pk) == archive_before
    await assert_silent(alice_ws)
    await ping_pong(bob_ws)


# -- sync ----------------------------------------------------------------------------------


async def test_offline_delivery_bob_syncs_every_message_sent_while_he_was_away(
    open_socket, direct, as_alice, as_bob
):
    # given alice sends three messages while bob has no socket
    alice_ws, _ = await open_socket(as_alice)
    ids = []
    for n in (1, 2, 3):
        await send_message(alice_ws, direct.pk, f"message {n}", f"r{n}", client_id=f"c{n}")
        ids.append((await receive_by_type(alice_ws, 2))["message.ack"]["id"])

    # when bob connects, his hello shows what he missed, and he syncs from his last seq
    bob_ws, hello = await open_socket(as_bob)
    [summary] = hello["conversations"]
    assert (summary["id"], summary["last_seq"], summary["unread"]) == (direct.pk, 3, 3)
    await bob_ws.send_json_to(
        {"type": "sync", "ref": "s", "conversation": direct.pk, "after_seq": 0}
    )

    # then he gets all three, in order, and nothing else
    [batch] = await receive(bob_ws)
    assert {k: v for k, v in batch.items() if k != "messages"} == {
        "type": "sync.batch",
        "ref": "s",
        "conversation": direct.pk,
        "has_more": False,
        "last_seq": 3,
    }
    assert [(m["id"], m["seq"], m["body"], m["sender"]) for m in batch["messages"]] == [
        (ids[0], 1, "message 1", ALICE),
        (ids[1], 2, "message 2", ALICE),
        (ids[2], 3, "message 3", ALICE),
    ]
    await assert_silent(bob_ws)


async def test_sync_after_seq_returns_exactly_the_missing_messages_in_order(
    open_socket, alice, direct, as_bob
):
    for n in range(1, 6):
        await database_sync_to_async(chat.message_post)(
            sender=alice, conversation_id=direct.pk, body=f"m{n}", client_id=f"c{n}"
        )
    bob_ws, _ = await open_socket(as_bob)

    await bob_ws.send_json_to(
        {"type": "sync", "ref": 7, "conversation": direct.pk, "after_seq": 2, "limit": 2}
    )
    [first] = await receive(bob_ws)
    await bob_ws.send_json_to({"type": "sync", "ref": 8, "conversation": direct.pk, "after_seq": 4})
    [rest] = await receive(bob_ws)

    assert (first["ref"], first["has_more"], first["last_seq"]) == (7, True, 5)
    assert [m["seq"] for m in first["messages"]] == [3, 4]
    assert [m["body"] for m in first["messages"]] == ["m3", "m4"]
    assert (rest["ref"], rest["has_more"]) == (8, False)
    assert [m["seq"] for m in rest["messages"]] == [5]


async def test_sync_of_a_conversation_i_am_not_in_is_refused(
    open_socket, bob, bob_and_carol, as_alice
):
    await database_sync_to_async(chat.message_post)(
        sender=bob, conversation_id=bob_and_carol.pk, body="private", client_id="c1"
    )
    alice_ws, _ = await open_socket(as_alice)

    await alice_ws.send_json_to(
        {"type": "sync", "ref": "s", "conversation": bob_and_carol.pk, "after_seq": 0}
    )

    assert await receive(alice_ws) == [error_frame("conversation_not_found", "s")]
    await ping_pong(alice_ws)


# -- bad frames ----------------------------------------------------------------------------


def _send(**fields) -> str:
    return json.dumps({"type": "message.send", "ref": "bad", "client_id": "c-bad", **fields})


BAD_FRAMES = {
    "invalid JSON": (lambda c: '{"type": "ping", ', "malformed_frame", None),
    "JSON array": (lambda c: '[{"type": "ping", "ref": "bad"}]', "malformed_frame", None),
    "JSON string": (lambda c: '"ping"', "malformed_frame", None),
    "missing type": (lambda c: '{"ref": "bad"}', "unknown_type", "bad"),
    "unknown type": (lambda c: '{"type": "launch", "ref": "bad"}', "unknown_type", "bad"),
    "non-string type": (lambda c: '{"type": ["ping"], "ref": "bad"}', "unknown_type", "bad"),
    "string conversation": (
        lambda c: _send(conversation=str(c), body="hi"),
        "invalid",
        "bad",
    ),
    "boolean conversation": (lambda c: _send(conversation=True, body="hi"), "invalid", "bad"),
    "missing conversation": (lambda c: _send(body="hi"), "invalid", "bad"),
    "empty body": (lambda c: _send(conversation=c, body=""), "empty_message", "bad"),
    "blank body": (lambda c: _send(conversation=c, body=" \n\t "), "empty_message", "bad"),
    "missing body": (lambda c: _send(conversation=c), "invalid", "bad"),
    "number body": (lambda c: _send(conversation=c, body=42), "invalid", "bad"),
    "body over 16 KiB": (
        lambda c: _send(conversation=c, body="x" * (16 * 1024 + 1)),
        "message_too_large",
        "bad",
    ),
    "body over 16 KiB in bytes, not characters": (
        lambda c: _send(conversation=c, body="é" * (8 * 1024 + 1)),
        "message_too_large",
        "bad",
    ),
    "non-string client_id": (
        lambda c: json.dumps(
            {"type": "message.send", "ref": "bad", "conversation": c, "body": "hi", "client_id": 5}
        ),
        "invalid",
        "bad",
    ),
    "client_id too long": (
        lambda c: _send(conversation=c, body="hi", client_id="x" * 65),
        "invalid",
        "bad",
    ),
    "negative after_seq": (
        lambda c: json.dumps({"type": "sync", "ref": "bad", "conversation": c, "after_seq": -1}),
        "invalid",
        "bad",
    ),
    "edit without id": (
        lambda c: json.dumps({"type": "message.edit", "ref": "bad", "body": "x"}),
        "invalid",
        "bad",
    ),
    "edit of a missing message": (
        lambda c: json.dumps({"type": "message.edit", "ref": "bad", "id": 999_999, "body": "x"}),
        "message_not_found",
        "bad",
    ),
    "read with a string seq": (
        lambda c: json.dumps({"type": "read", "ref": "bad", "conversation": c, "seq": "1"}),
        "invalid",
        "bad",
    ),
    "presence with an unknown availability": (
        lambda c: json.dumps({"type": "presence.set", "ref": "bad", "availability": "sleepy"}),
        "invalid_availability",
        "bad",
    ),
    "presence subscribe without users": (
        lambda c: json.dumps({"type": "presence.subscribe", "ref": "bad", "users": "bob"}),
        "invalid",
        "bad",
    ),
    "idle that is not a boolean": (
        lambda c: json.dumps({"type": "idle", "ref": "bad", "idle": "yes"}),
        "invalid",
        "bad",
    ),
    "binary frame": (lambda c: b'{"type": "ping", "ref": "bad"}', "binary_not_supported", None),
}


@pytest.mark.parametrize("name", list(BAD_FRAMES))
async def test_a_bad_frame_gets_an_error_with_its_ref_and_the_socket_stays_usable(
    open_socket, direct, as_alice, as_bob, name
):
    build, code, ref = BAD_FRAMES[name]
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    data = build(direct.pk)

    if isinstance(data, bytes):
        await alice_ws.send_to(bytes_data=data)
    else:
        await alice_ws.send_to(text_data=data)

    assert await receive(alice_ws) == [error_frame(code, ref)]
    await ping_pong(alice_ws)
    assert await message_count() == 0
    await assert_silent(bob_ws)
    await assert_silent(alice_ws)


async def test_a_body_of_exactly_16_kib_is_accepted(open_socket, direct, as_alice):
    alice_ws, _ = await open_socket(as_alice)

    await send_message(alice_ws, direct.pk, "x" * (16 * 1024), "big", client_id="c1")

    ack = (await receive_by_type(alice_ws, 2))["message.ack"]
    assert (ack["ref"], ack["seq"]) == ("big", 1)
    assert len((await message_get(ack["id"])).body) == 16 * 1024


@pytest.mark.parametrize(
    "body",
    [
        "x" * settings.PARLEY_WS_MAX_FRAME_BYTES,
        "é" * (settings.PARLEY_WS_MAX_FRAME_BYTES // 2),  # fewer characters than the limit
    ],
    ids=["ascii", "multibyte"],
)
async def test_a_frame_above_the_hard_limit_closes_the_socket_with_1009(
    open_socket, direct, as_alice, as_bob, body
):
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    frame = json.dumps(
        {"type": "message.send", "conversation": direct.pk, "body": body}, ensure_ascii=False
    )
    assert len(frame.encode()) > settings.PARLEY_WS_MAX_FRAME_BYTES

    await alice_ws.send_to(text_data=frame)

    assert await alice_ws.receive_output(timeout=TIMEOUT) == {
        "type": "websocket.close",
        "code": 1009,
    }
    assert await message_count() == 0
    await assert_silent(bob_ws)


async def test_a_frame_at_the_hard_limit_is_read_and_answered(open_socket, direct, as_alice):
    alice_ws, _ = await open_socket(as_alice)
    head = json.dumps({"type": "message.send", "ref": "r", "conversation": direct.pk, "body": ""})
    padding = settings.PARLEY_WS_MAX_FRAME_BYTES - len(head)
    frame = head[:-2] + "x" * padding + head[-2:]
    assert len(frame.encode()) == settings.PARLEY_WS_MAX_FRAME_BYTES

    await alice_ws.send_to(text_data=frame)

    assert await receive(alice_ws) == [error_frame("message_too_large", "r")]
    await ping_pong(alice_ws)


# -- typing and read -----------------------------------------------------------------------


async def test_typing_reaches_the_other_participant_and_not_the_sender(
    open_socket, direct, as_alice, as_bob
):
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)

    await alice_ws.send_json_to({"type": "typing", "ref": "t", "conversation": direct.pk})

    assert await receive(bob_ws) == [{"type": "typing", "conversation": direct.pk, "user": ALICE}]
    await assert_silent(alice_ws)
    await assert_silent(bob_ws)


async def test_typing_in_a_conversation_i_am_not_in_is_refused(
    open_socket, direct, bob_and_carol, as_alice, as_bob, as_carol
):
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    carol_ws, _ = await open_socket(as_carol)

    await alice_ws.send_json_to({"type": "typing", "ref": "t", "conversation": bob_and_carol.pk})

    assert await receive(alice_ws) == [error_frame("conversation_not_found", "t")]
    await assert_silent(bob_ws)
    await assert_silent(carol_ws)


async def test_read_acks_and_lowers_the_unread_count(
    open_socket, api_client_for, alice, bob, direct, as_bob
):
    for n in (1, 2, 3):
        await database_sync_to_async(chat.message_post)(
            sender=alice, conversation_id=direct.pk, body=f"m{n}", client_id=f"c{n}"
        )
    bob_ws, hello = await open_socket(as_bob)
    assert hello["conversations"][0]["unread"] == 3

    await bob_ws.send_json_to({"type": "read", "ref": "r", "conversation": direct.pk, "seq": 2})

    frames = await receive_by_type(bob_ws, 2)
    assert frames["read.ack"] == {
        "type": "read.ack",
        "ref": "r",
        "conversation": direct.pk,
        "last_read_seq": 2,
    }
    # every socket of bob's (other tabs) hears of it, with the new unread count
    assert frames["conversation.read"] == {
        "type": "conversation.read",
        "conversation": direct.pk,
        "last_read_seq": 2,
        "unread": 1,
    }
    bob_api = await database_sync_to_async(api_client_for)(bob)
    response = await database_sync_to_async(lambda: bob_api.get("/api/v1/conversations/"))()
    assert response.status_code == 200
    [summary] = response.json()["results"]
    assert (summary["id"], summary["last_read_seq"], summary["unread"]) == (direct.pk, 2, 1)
    _, hello_again = await open_socket(as_bob)
    assert hello_again["conversations"][0]["unread"] == 1

    # the marker never moves backwards, and a read beyond the end stops at the last message
    await bob_ws.send_json_to({"type": "read", "ref": "back", "conversation": direct.pk, "seq": 1})
    assert await receive(bob_ws) == [
        {"type": "read.ack", "ref": "back", "conversation": direct.pk, "last_read_seq": 2}
    ]
    await bob_ws.send_json_to({"type": "read", "ref": "far", "conversation": direct.pk, "seq": 99})
    frames = await receive_by_type(bob_ws, 2)
    assert frames["read.ack"]["last_read_seq"] == 3
    assert frames["conversation.read"]["unread"] == 0


# -- conversations changing under open sockets ---------------------------------------------


async def test_adding_a_third_person_to_a_direct_conversation_starts_a_group_live(
    open_socket, api_client_for, alice, carol, direct, as_alice, as_bob, as_carol
):
    await database_sync_to_async(chat.message_post)(
        sender=alice, conversation_id=direct.pk, body="just us", client_id="c0"
    )
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    carol_ws, carol_hello = await open_socket(as_carol)
    assert carol_hello["conversations"] == []
    alice_api = await database_sync_to_async(api_client_for)(alice)

    # when alice adds carol through the REST API
    response = await database_sync_to_async(
        lambda: alice_api.post(
            f"/api/v1/conversations/{direct.pk}/participants/",
            {"username": "carol"},
            format="json",
        )
    )()

    # then a NEW group of three exists, and every open socket hears of it
    assert response.status_code == 201
    group = response.json()
    assert group["id"] != direct.pk
    assert group["kind"] == "group"
    assert group["participants"] == [ALICE, BOB, CAROL]
    assert group["last_seq"] == 0
    for ws in (alice_ws, bob_ws, carol_ws):
        [frame] = await receive(ws)
        assert frame["type"] == "conversation.updated"
        assert frame["conversation"]["id"] == group["id"]
        assert frame["conversation"]["kind"] == "group"
        assert frame["conversation"]["participants"] == [ALICE, BOB, CAROL]
    for ws in (alice_ws, bob_ws, carol_ws):
        await assert_silent(ws)

    # and a message in the group reaches carol's already-open socket
    await send_message(bob_ws, group["id"], "welcome carol", "w", client_id="w1")
    assert (await receive_by_type(bob_ws, 2))["message.ack"]["seq"] == 1
    for ws in (alice_ws, carol_ws):
        [frame] = await receive(ws)
        assert frame["type"] == "message.new"
        assert (frame["message"]["conversation"], frame["message"]["body"]) == (
            group["id"],
            "welcome carol",
        )

    # while the direct conversation and its history stay closed to carol
    await carol_ws.send_json_to(
        {"type": "sync", "ref": "peek", "conversation": direct.pk, "after_seq": 0}
    )
    assert await receive(carol_ws) == [error_frame("conversation_not_found", "peek")]
    await send_message(carol_ws, direct.pk, "hi both", "into-direct", client_id="x")
    assert await receive(carol_ws) == [error_frame("conversation_not_found", "into-direct")]
    assert await database_sync_to_async(Message.objects.filter(conversation=direct).count)() == 1
    for ws in (alice_ws, bob_ws, carol_ws):
        await assert_silent(ws)


async def test_token_revocation_closes_the_socket_of_that_token_only(
    open_socket, api_client_for, alice, bob, direct, as_bob
):
    revoked_api = await database_sync_to_async(api_client_for)(alice)
    other_api = await database_sync_to_async(api_client_for)(alice)
    revoked_ws, _ = await open_socket(bearer(revoked_api.token))
    other_ws, _ = await open_socket(bearer(other_api.token))
    bob_ws, _ = await open_socket(as_bob)

    response = await database_sync_to_async(lambda: revoked_api.delete("/api/v1/auth/token/"))()

    assert response.status_code == 204
    assert await revoked_ws.receive_output(timeout=TIMEOUT) == {
        "type": "websocket.close",
        "code": 4401,
    }
    await ping_pong(other_ws)
    await ping_pong(bob_ws)
    await assert_silent(other_ws)


async def test_rate_limit_refuses_frames_beyond_the_burst_and_keeps_the_socket(
    open_socket, settings, direct, as_alice, as_bob
):
    settings.PARLEY_WS_RATE_BURST = 3
    settings.PARLEY_WS_RATE_PER_SECOND = 0.0  # no refill while the frames are counted
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)

    # four frames at once: three fit the burst, the fourth is refused
    for n in range(3):
        await alice_ws.send_json_to({"type": "ping", "ref": n})
    await send_message(alice_ws, direct.pk, "one too many", "over", client_id="c1")

    assert await receive(alice_ws, 4) == [
        {"type": "pong", "ref": 0},
        {"type": "pong", "ref": 1},
        {"type": "pong", "ref": 2},
        error_frame("rate_limited", "over"),
    ]
    assert await message_count() == 0
    await assert_silent(bob_ws)

    # the socket stays open: it keeps answering, and works again once the allowance refills
    await alice_ws.send_json_to({"type": "ping", "ref": "again"})
    assert await receive(alice_ws) == [error_frame("rate_limited", "again")]
    settings.PARLEY_WS_RATE_PER_SECOND = 1_000_000.0
    await send_message(alice_ws, direct.pk, "now it fits", "later", client_id="c2")
    ack = (await receive_by_type(alice_ws, 2))["message.ack"]
    assert (ack["ref"], ack["seq"]) == ("later", 1)
    assert (await receive(bob_ws))[0]["message"]["body"] == "now it fits"


async def test_junk_frames_count_against_the_rate_limit(open_socket, settings, as_alice):
    settings.PARLEY_WS_RATE_BURST = 2
    settings.PARLEY_WS_RATE_PER_SECOND = 0.0
    alice_ws, _ = await open_socket(as_alice)

    await alice_ws.send_to(text_data="not json")
    await alice_ws.send_to(bytes_data=b"\x00\x01")
    await alice_ws.send_to(text_data="still not json")
    await alice_ws.send_json_to({"type": "ping", "ref": "late"})

    assert await receive(alice_ws, 4) == [
        error_frame("malformed_frame", None),
        error_frame("binary_not_supported", None),
        error_frame("rate_limited", None),
        error_frame("rate_limited", "late"),
    ]


async def test_a_binary_frame_above_the_hard_limit_closes_the_socket_with_1009(
    open_socket, as_alice
):
    alice_ws, _ = await open_socket(as_alice)

    await alice_ws.send_to(bytes_data=b"x" * (settings.PARLEY_WS_MAX_FRAME_BYTES + 1))

    assert await alice_ws.receive_output(timeout=TIMEOUT) == {
        "type": "websocket.close",
        "code": 1009,
    }


async def test_a_person_added_to_a_group_is_attached_live_and_sees_no_earlier_history(
    open_socket, api_client_for, make_person, alice, bob, carol, as_alice, as_bob, as_carol
):
    dave = await database_sync_to_async(make_person)("dave", display_name="Dave Kim")
    as_dave = bearer((await database_sync_to_async(directory.token_create)(person=dave))[1])
    group, _ = await database_sync_to_async(chat.conversation_create)(
        creator=alice, usernames=["bob", "carol"], title="Team"
    )
    await database_sync_to_async(chat.message_post)(
        sender=bob, conversation_id=group.pk, body="before dave", client_id="c0"
    )
    sockets = [(await open_socket(headers))[0] for headers in (as_alice, as_bob, as_carol)]
    dave_ws, dave_hello = await open_socket(as_dave)
    assert dave_hello["conversations"] == []
    alice_api = await database_sync_to_async(api_client_for)(alice)

    response = await database_sync_to_async(
        lambda: alice_api.post(
            f"/api/v1/conversations/{group.pk}/participants/", {"username": "dave"}, format="json"
        )
    )()

    # the same group, now of four; each socket, dave's included, is told exactly once
    assert response.status_code == 201
    assert response.json()["id"] == group.pk
    dave_summary = {"username": "dave", "display_name": "Dave Kim"}
    for ws in [*sockets, dave_ws]:
        [frame] = await receive(ws)
        assert frame["type"] == "conversation.updated"
        assert frame["conversation"]["id"] == group.pk
        assert frame["conversation"]["participants"] == [ALICE, BOB, CAROL, dave_summary]
    for ws in [*sockets, dave_ws]:
        await assert_silent(ws)

    await send_message(sockets[2], group.pk, "hello dave", "h", client_id="c1")
    await receive_by_type(sockets[2], 2)
    [frame] = await receive(dave_ws)
    assert (frame["type"], frame["message"]["seq"], frame["message"]["body"]) == (
        "message.new",
        2,
        "hello dave",
    )
    await dave_ws.send_json_to({"type": "sync", "ref": "s", "conversation": group.pk})
    [batch] = await receive(dave_ws)
    assert [m["body"] for m in batch["messages"]] == ["hello dave"]


async def test_a_person_who_leaves_a_group_stops_getting_its_messages(
    open_socket, api_client_for, alice, bob, carol, as_alice, as_bob, as_carol
):
    group, _ = await database_sync_to_async(chat.conversation_create)(
        creator=alice, usernames=["bob", "carol"], title="Team"
    )
    alice_ws, _ = await open_socket(as_alice)
    bob_ws, _ = await open_socket(as_bob)
    carol_ws, _ = await open_socket(as_carol)
    bob_api = await database_sync_to_async(api_client_for)(bob)

    response = await database_sync_to_async(
        lambda: bob_api.delete(f"/api/v1/conversations/{group.pk}/participants/bob/")
    )()

    assert response.status_code == 204
    assert await receive(bob_ws) == [
        {
            "type": "conversation.left",
            "conversation": group.pk,
            "title": "Team",
            "reason": "left",
            "by": None,
        }
    ]
    for ws in (alice_ws, carol_ws):
        [frame] = await receive(ws)
        assert frame["type"] == "conversation.updated"
        assert frame["conversation"]["participants"] == [ALICE, CAROL]
        # so their pages can say "Bob Chen left"
        assert frame["left"] == {
            "user": {"username": "bob", "display_name": "Bob Chen"},
            "reason": "left",
        }
    await send_message(alice_ws, group.pk, "after bob", "a", client_id="c1")
    await receive_by_type(alice_ws, 2)
    assert (await receive(carol_ws))[0]["message"]["body"] == "after bob"
    await assert_silent(bob_ws)
    await bob_ws.send_json_to({"type": "typing", "ref": "t", "conversation": group.pk})
    assert await receive(bob_ws) == [error_frame("conversation_not_found", "t")]
    await assert_silent(alice_ws)
