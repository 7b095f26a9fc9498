"""message.send through the group committer (chat/committer.py): posts that arrive while a
batch commits go together in the next one; past the bounded queue a post is refused at once
with `overloaded` and `retry_after_ms`, and every post already queued is stored and acked."""

import asyncio
import threading
from collections import Counter

import pytest

from chat import committer, services
from tests.chat.test_consumers import (  # noqa: F401 - fixtures used by name
    as_alice,
    direct,
    message_count,
    open_socket,
    ping_pong,
    receive,
    send_message,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TIMEOUT = 5


@pytest.fixture
def held_committer(settings, monkeypatch):
    """A committer with one writer whose first batch waits until the test releases it."""
    settings.PARLEY_POST_WRITERS = 1
    settings.PARLEY_POST_QUEUE_MAX = 2
    committer.committer_reset()
    started, release = threading.Event(), threading.Event()
    batches: list[int] = []
    real_batch = services.message_post_batch

    def held_batch(*, requests):
        batches.append(len(requests))
        started.set()
        release.wait(TIMEOUT)
        return real_batch(requests=requests)

    monkeypatch.setattr(services, "message_post_batch", held_batch)
    yield started, release, batches
    release.set()
    committer.committer_reset()


async def _until_queued(count: int) -> None:
    """Wait until count posts are queued behind the batch in progress."""
    async with asyncio.timeout(TIMEOUT):
        while committer.committer_get().pending < count:
            await asyncio.sleep(0.01)


async def test_posts_arriving_during_a_commit_are_stored_together_and_overflow_is_refused(
    open_socket,  # noqa: F811 - the fixtures imported above
    direct,  # noqa: F811
    as_alice,  # noqa: F811
    held_committer,
):
    started, release, batches = held_committer
    sockets = [(await open_socket(as_alice))[0] for _ in range(4)]

    # given a batch in progress and two posts queued behind it (the queue's limit)
    await send_message(sockets[0], direct.pk, "first", "r1", client_id="c1")
    assert await asyncio.to_thread(started.wait, TIMEOUT)
    await send_message(sockets[1], direct.pk, "second", "r2", client_id="c2")
    await send_message(sockets[2], direct.pk, "third", "r3", client_id="c3")
    await _until_queued(2)

    # when one more arrives, it is refused at once, before anything commits
    await send_message(sockets[3], direct.pk, "fourth", "r4", client_id="c4")
    [refusal] = await receive(sockets[3])
    assert refusal["type"] == "error"
    assert refusal["code"] == "overloaded"
    assert refusal["ref"] == "r4"
    assert isinstance(refusal["retry_after_ms"], int)
    assert refusal["retry_after_ms"] >= 50
    assert await message_count() == 0

    # then, once the batch commits, the queued posts go in one batch and all three are acked
    release.set()
    acks = [await _ack_of(ws) for ws in sockets[:3]]
    assert [(a["ref"], a["seq"]) for a in acks] == [("r1", 1), ("r2", 2), ("r3", 3)]
    assert batches == [1, 2]
    assert await message_count() == 3
    # the refused sender's socket stays open (it saw the three posts go by)
    assert [f["type"] for f in await receive(sockets[3], 3)] == ["message.new"] * 3
    await ping_pong(sockets[3])


async def _ack_of(ws) -> dict:
    """Return the socket's next message.ack, past the message.new frames around it."""
    while True:
        [frame] = await receive(ws)
        if frame["type"] != "message.new":
            return frame


async def test_a_post_pays_no_access_hop_of_its_own_and_its_batch_checks_the_socket_once(
    open_socket,  # noqa: F811 - the fixtures imported above
    direct,  # noqa: F811
    as_alice,  # noqa: F811
    monkeypatch,
):
    """The socket's credentials are checked by the committer's batch (one query for all its
    sockets), not by a database hop per frame; nor does Channels' per-event hop run."""
    import channels.consumer

    from directory import selectors as directory_selectors

    calls: Counter[str] = Counter()
    one, many = directory_selectors.socket_access_ended, directory_selectors.sockets_access_ended

    def one_counted(**kwargs):
        calls["per frame"] += 1
        return one(**kwargs)

    def many_counted(**kwargs):
        calls["per batch"] += 1
        return many(**kwargs)

    async def close_counted():
        calls["close_old_connections hop"] += 1

    monkeypatch.setattr(directory_selectors, "socket_access_ended", one_counted)
    monkeypatch.setattr(directory_selectors, "sockets_access_ended", many_counted)
    monkeypatch.setattr(channels.consumer, "aclose_old_connections", close_counted)
    ws, _ = await open_socket(as_alice)

    for i in range(3):
        await send_message(ws, direct.pk, f"post {i}", f"r{i}", client_id=f"c{i}")
        ack = await _ack_of(ws)
        assert (ack["ref"], ack["seq"]) == (f"r{i}", i + 1)

    assert calls == {"per batch": 3}
    assert await message_count() == 3
