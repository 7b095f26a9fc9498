"""The fan-out hub's cost model: layer operations per message and per connect are bounded."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer  # noqa: TID251 - the test counts layer calls
from channels.testing import WebsocketCommunicator

from chat import services as chat
from config.asgi import application
from directory import realtime
from directory import services as directory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


class LayerCounter:
    """Wraps the layer's methods to count what crosses it."""

    def __init__(self, monkeypatch):
        self.calls: dict[str, list] = {"group_send": [], "group_add": []}
        layer = get_channel_layer()
        for name in self.calls:
            original = getattr(layer, name)

            async def counted(*args, _original=original, _name=name, **kwargs):
                self.calls[_name].append(args[0])
                return await _original(*args, **kwargs)

            monkeypatch.setattr(layer, name, counted)


def _people_and_room(count: int, rooms: int = 1):
    owner = directory.person_create(username="owner", password=None)
    members = [directory.person_create(username=f"m{i}", password=None) for i in range(count)]
    created = [
        chat.room_create(creator=owner, title=f"room {r}", members=members) for r in range(rooms)
    ]
    tokens = [directory.token_create(person=p)[1] for p in [owner, *members]]
    return owner, created, tokens


async def _connect(token: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, "/ws/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await communicator.connect()
    assert connected
    hello = json.loads(await communicator.receive_from())
    assert hello["type"] == "hello"
    return communicator


async def test_a_room_message_costs_one_layer_publish_whatever_the_audience(monkeypatch):
    owner, (room,), tokens = await database_sync_to_async(_people_and_room)(30)
    sockets = [await _connect(t) for t in tokens]
    # Let the presence announcements of those connections go by before counting.
    await asyncio.sleep(0.3)
    for s in sockets:
        while not await s.receive_nothing(timeout=0.05):
            await s.receive_from()
    counter = LayerCounter(monkeypatch)
    hub = await realtime.hub_get()
    received_before, written_before = hub.events_received, hub.frames_written
    try:
        await database_sync_to_async(chat.message_post)(
            sender=owner, conversation_id=room.pk, body="to everyone", client_id="one"
        )
        frames = [json.loads(await s.receive_from(timeout=5)) for s in sockets]
        sends = list(counter.calls["group_send"])
        received, written = hub.events_received, hub.frames_written
    finally:
        for s in sockets:
            await s.disconnect()

    assert [f["message"]["body"] for f in frames] == ["to everyone"] * 31
    assert sends == [realtime.shard_group("c", room.pk)]
    assert received - received_before == 1
    assert written - written_before == 31


async def test_connecting_in_many_rooms_subscribes_at_most_the_shards(monkeypatch, settings):
    settings.PARLEY_FANOUT_SHARDS = 8
    _, rooms, tokens = await database_sync_to_async(_people_and_room)(2, rooms=40)
    counter = LayerCounter(monkeypatch)

    first = await _connect(tokens[1])
    adds_for_first = len(counter.calls["group_add"])
    second = await _connect(tokens[2])
    try:
        adds_for_second = len(counter.calls["group_add"]) - adds_for_first
    finally:
        await first.disconnect()
        await second.disconnect()

    assert len(rooms) == 40
    # 40 rooms fall into at most 8 conversation shards, plus one person shard.
    assert adds_for_first <= 8 + 1
    # The second person shares the rooms: only their own person shard may be new.
    assert adds_for_second <= 1
