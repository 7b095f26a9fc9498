"""The fan-out hub through a channel layer outage: nothing stays half-subscribed."""

from dataclasses import dataclass, field

import pytest

from directory import realtime

pytestmark = pytest.mark.asyncio


@dataclass(eq=False)
class FakeSocket:
    person_id: int
    conversation_ids: set[int] = field(default_factory=set)
    watching: dict[int, str] = field(default_factory=dict)
    frames: list[str] = field(default_factory=list)

    async def deliver_frame(self, text: str) -> None:
        self.frames.append(text)


class RestartingLayer:
    """A layer whose first subscription fails, as while Redis restarts."""

    def __init__(self) -> None:
        self.group_adds: list[str] = []

    async def group_add(self, group: str, channel: str) -> None:
        self.group_adds.append(group)
        if len(self.group_adds) == 1:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


async def test_a_shard_subscription_that_failed_is_made_again_on_the_next_attach(settings):
    settings.PARLEY_FANOUT_SHARDS = 64
    hub = realtime.Hub()
    hub.layer, hub.channel = RestartingLayer(), "hub.test"
    socket = FakeSocket(person_id=7)

    with pytest.raises(ConnectionError):
        await hub.attach(socket)
    await hub.attach(socket)

    assert hub.layer.group_adds == ["fanout.p.7", "fanout.p.7"]
    assert hub.subscribed == {"fanout.p.7"}


async def test_resync_reaches_every_local_socket_once():
    hub = realtime.Hub()
    hub.channel = "hub.test"
    alice_tab, alice_phone, bob = FakeSocket(1, {10}), FakeSocket(1, {10}), FakeSocket(2, {10})
    for socket in (alice_tab, alice_phone, bob):
        await hub.attach(socket)
    hub.detach(bob)

    await hub.resync_all()

    assert alice_tab.frames == alice_phone.frames == ['{"type":"resync"}']
    assert bob.frames == []
