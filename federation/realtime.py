"""The federation gateway's wake-up call on the channel layer (the only layer code here).

The outbox in the database is the truth; the wake-up only saves the gateway its poll delay,
so a lost wake-up (the layer is at-most-once, or the gateway is down) loses nothing.
"""

import logging
from collections.abc import AsyncIterator

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer  # noqa: TID251

logger = logging.getLogger(__name__)

OUTBOUND_GROUP = "federation.outbound"


def outbound_wake() -> None:
    """Tell the gateway that messages wait in the outbox (after commit; failures logged)."""
    try:
        async_to_sync(get_channel_layer().group_send)(OUTBOUND_GROUP, {"type": "outbound.wake"})
    except Exception:
        logger.exception("federation: outbound wake-up not sent (the gateway's poll will send)")


async def outbound_wakeups() -> AsyncIterator[dict]:
    """Yield each wake-up sent to the gateway (one channel of its own on the layer)."""
    layer = get_channel_layer()
    channel = await layer.new_channel("federation.")
    await layer.group_add(OUTBOUND_GROUP, channel)
    while True:
        yield await layer.receive(channel)
