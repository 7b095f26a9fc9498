"""The federation gateway's wake-up channel on the layer (the only layer code here).

Chat announces deliveries waiting in its outbox on chat.realtime.OUTBOUND_DELIVERY_GROUP; the
outbox in the database is the truth, so a lost wake-up only waits for the gateway's poll.
"""

from collections.abc import AsyncIterator

from channels.layers import get_channel_layer  # noqa: TID251

from chat.realtime import OUTBOUND_DELIVERY_GROUP


async def outbound_wakeups() -> AsyncIterator[dict]:
    """Yield each wake-up sent to the gateway (one channel of its own on the layer)."""
    layer = get_channel_layer()
    channel = await layer.new_channel("federation.")
    await layer.group_add(OUTBOUND_DELIVERY_GROUP, channel)
    while True:
        yield await layer.receive(channel)
