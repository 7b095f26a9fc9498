"""Fan-out of WebSocket frames across server processes (the only code on the channel layer).

Design. Each server process runs one Hub per event loop. The hub owns one channel on the
channel layer and subscribes it to shard groups ("fanout.c.17" for conversations, "fanout.p.3"
for people) the first time one of its sockets needs that shard, never per socket, and never
unsubscribes. An event names a conversation or a person, carries a frame serialised once, and
is published once: one layer operation whatever the audience. Every process subscribed to
the shard receives it once and writes the same text to each of its local sockets for that
conversation or person. So a message to a room of N members costs one publish plus one
receive per server process, and a person in 500 rooms pays no layer operation on connect once
the process holds the (at most 2 x PARLEY_FANOUT_SHARDS) subscriptions.

The layer is at-most-once. Clients detect gaps by seq and resync; nothing depends on an
event arriving. A gap nobody can see by seq (the last messages before a quiet spell) happens
when the layer's connection drops, e.g. while Redis restarts: events published meanwhile are
gone, yet the sockets stay open. So when the hub's layer connection comes back (subscriptions
restored first), the hub sends every local socket a `resync` frame, and clients `sync` each
conversation they show from the last seq they hold.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import weakref
from collections import defaultdict
from typing import Any, Protocol

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer  # noqa: TID251
from django.conf import settings

logger = logging.getLogger(__name__)

CONVERSATION = "c"
PERSON = "p"
# Presence watchers: keyed by (watched person, the level that person grants the watcher), so
# a presence change costs one publish per level, however many people watch.
WATCH = "w"


class Socket(Protocol):
    """What the hub needs of a connected WebSocket."""

    person_id: int
    conversation_ids: set[int]
    watching: dict[int, str]  # watched person id -> level

    async def deliver_frame(self, text: str) -> None: ...

    async def close_for(self, code: int, reason: str) -> None: ...

    def matches_credentials(self, *, token_id: int | None, session_key: str | None) -> bool: ...


# The frame of the WebSocket contract extension `resync {}` (README, API).
RESYNC_FRAME = json.dumps({"type": "resync"}, separators=(",", ":"))


def shard_group(kind: str, object_id: int) -> str:
    """Return the layer group that carries events for a conversation or a person."""
    return f"fanout.{kind}.{object_id % settings.PARLEY_FANOUT_SHARDS}"


class Hub:
    """The per-process registry of local sockets and its single layer channel."""

    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.by_conversation: dict[int, set[Socket]] = defaultdict(set)
        self.by_person: dict[int, set[Socket]] = defaultdict(set)
        self.by_watch: dict[tuple[int, str], set[Socket]] = defaultdict(set)
        self.subscribed: set[str] = set()
        self.task: asyncio.Task | None = None
        self.events_received = 0
        self.frames_written = 0
        self.layer_reconnects = 0

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("hub.")
        self.task = asyncio.get_running_loop().create_task(self._receive_forever())
        self._watch_layer_connections()

    def _watch_layer_connections(self) -> None:
        """Be called back whenever the layer's Redis subscriber connections reconnect.

        channels_redis has no reconnect hook of its own (its on_reconnect argument is never
        called), so the hub registers on redis-py's connect callbacks of each shard's pub/sub
        connection, after the PubSub's own callback that subscribes again. The in-memory
        layer never disconnects.
        """
        loop_layer = getattr(self.layer, "_get_layer", None)
        if loop_layer is None:
            return
        try:
            connections = [shard._pubsub.connection for shard in loop_layer()._shards]
        except AttributeError:
            logger.warning(
                "fan-out hub: this channel layer has no reconnect hook; after an outage of "
                "the layer clients resync only when they see a gap in seq"
            )
            return
        for connection in connections:
            if connection is not None:
                connection.register_connect_callback(self._layer_reconnected)

    async def _layer_reconnected(self, connection: Any) -> None:
        # Called inside redis-py's connect: hand the writes to the loop, do not hold it up.
        self.layer_reconnects += 1
        asyncio.get_running_loop().create_task(self.resync_all())

    async def resync_all(self) -> None:
        """Tell every local socket that live frames may have been lost: sync from your seq."""
        sockets = {socket for group in self.by_person.values() for socket in group}
        logger.warning("fan-out hub: channel layer reconnected; %d sockets resync", len(sockets))
        for socket in sockets:
            try:
                await socket.deliver_frame(RESYNC_FRAME)
            except Exception:  # a socket that died mid-write must not stop the others
                logger.debug("fan-out hub: resync write failed, detaching socket", exc_info=True)
                self.detach(socket)

    async def _subscribe(self, kind: str, object_id: int) -> None:
        group = shard_group(kind, object_id)
        if group not in self.subscribed:
            self.subscribed.add(group)
            try:
                await self.layer.group_add(group, self.channel)
            except BaseException:
                # Redis is down (the socket's connect fails): forget the shard, or this
                # process would never subscribe it again and stay deaf to it after Redis is
                # back (a reconnect restores only the subscriptions that were made).
                self.subscribed.discard(group)
                raise

    async def attach(self, socket: Socket) -> None:
        """Register a socket for its person and conversations."""
        self.by_person[socket.person_id].add(socket)
        await self._subscribe(PERSON, socket.person_id)
        for conversation_id in socket.conversation_ids:
            self.by_conversation[conversation_id].add(socket)
            await self._subscribe(CONVERSATION, conversation_id)

    def detach(self, socket: Socket) -> None:
        """Forget a closed socket."""
        self._discard(self.by_person, socket.person_id, socket)
        for conversation_id in socket.conversation_ids:
            self._discard(self.by_conversation, conversation_id, socket)
        for watched_id, level in socket.watching.items():
            self._discard(self.by_watch, (watched_id, level), socket)

    async def watch(self, socket: Socket, person_id: int, level: str) -> None:
        """Deliver the person's presence changes, as seen at this level, to the socket."""
        self.unwatch(socket, person_id)
        socket.watching[person_id] = level
        self.by_watch[(person_id, level)].add(socket)
        await self._subscribe(WATCH, person_id)

    def unwatch(self, socket: Socket, person_id: int) -> None:
        level = socket.watching.pop(person_id, None)
        if level is not None:
            self._discard(self.by_watch, (person_id, level), socket)

    @staticmethod
    def _discard(index: dict[int, set[Socket]], key: int, socket: Socket) -> None:
        sockets = index.get(key)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del index[key]

    async def _receive_forever(self) -> None:
        while True:
            try:
                event = await self.layer.receive(self.channel)
                self.events_received += 1
                await self.dispatch(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("fan-out hub: event dropped")
                await asyncio.sleep(0.05)

    async def dispatch(self, event: dict[str, Any]) -> None:
        """Apply an event to the local sockets it is addressed to."""
        kind, object_id = event["kind"], event["id"]
        if kind == WATCH:
            sockets = self.by_watch.get((object_id, event["level"]))
        else:
            index = self.by_conversation if kind == CONVERSATION else self.by_person
            sockets = index.get(object_id)
        if not sockets:
            return
        control = event.get("control")
        if control:
            await self._control(object_id, list(sockets), control)
        frame = event.get("frame")
        if frame is None:
            return
        exclude = event.get("exclude_person")
        excluded = set(event.get("exclude_people") or ())
        for socket in list(sockets):
            if (exclude is not None and socket.person_id == exclude) or (
                socket.person_id in excluded
            ):
                continue
            try:
                await socket.deliver_frame(frame)
                self.frames_written += 1
            except Exception:  # a socket that died mid-write must not stop the others
                logger.debug("fan-out hub: write failed, detaching socket", exc_info=True)
                self.detach(socket)

    async def _control(self, person_id: int, sockets: list[Socket], control: dict) -> None:
        action = control["action"]
        if action == "join":
            conversation_id = control["conversation"]
            for socket in sockets:
                socket.conversation_ids.add(conversation_id)
                self.by_conversation[conversation_id].add(socket)
            await self._subscribe(CONVERSATION, conversation_id)
        elif action == "leave":
            conversation_id = control["conversation"]
            for socket in sockets:
                socket.conversation_ids.discard(conversation_id)
                self._discard(self.by_conversation, conversation_id, socket)
        elif action == "rewatch":
            watched_id, level = control["person"], control["level"]
            for socket in sockets:
                if watched_id in socket.watching:
                    await self.watch(socket, watched_id, level)
        elif action == "watch":  # a distribution group of the person's gained a member
            for socket in sockets:
                await self.watch(socket, control["person"], control["level"])
        elif action == "unwatch":  # ... or lost one
            for socket in sockets:
                self.unwatch(socket, control["person"])
        elif action == "close":
            for socket in sockets:
                if socket.matches_credentials(
                    token_id=control.get("token_id"), session_key=control.get("session_key")
                ):
                    await socket.close_for(control.get("code", 4401), control.get("reason", ""))


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()
_hub_lock: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def hub_get() -> Hub:
    """Return this event loop's hub, starting it on first use."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is not None:
        return hub
    lock = _hub_lock.setdefault(loop, asyncio.Lock())
    async with lock:
        hub = _hubs.get(loop)
        if hub is None:
            hub = Hub()
            await hub.start()
            _hubs[loop] = hub
            _remember_server_loop(loop)
    return hub


_server_loop: asyncio.AbstractEventLoop | None = None
_server_thread: int | None = None


def _remember_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    global _server_loop, _server_thread
    _server_loop, _server_thread = loop, threading.get_ident()


async def apublish(
    *,
    kind: str,
    object_id: int,
    frame: str | None = None,
    control: dict | None = None,
    exclude_person: int | None = None,
    level: str | None = None,
    exclude_people: list[int] | None = None,
) -> None:
    """Publish one event to every process holding sockets for the conversation or person."""
    event: dict[str, Any] = {"type": "fanout", "kind": kind, "id": object_id}
    if level is not None:
        event["level"] = level
    if frame is not None:
        event["frame"] = frame
    if control is not None:
        event["control"] = control
    if exclude_person is not None:
        event["exclude_person"] = exclude_person
    if exclude_people:
        event["exclude_people"] = exclude_people
    await get_channel_layer().group_send(shard_group(kind, object_id), event)


def _log_failure(future: concurrent.futures.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("fan-out publish failed: %s", future.exception())


def publish(**kwargs: Any) -> None:
    """Publish from synchronous code (services' on_commit hooks); failures are logged only.

    In a server process the event is handed to the hub's event loop without waiting, so the
    database thread (one per process, shared by every socket) goes straight on to the next
    frame. Events keep their order: the loop runs handed-over coroutines first come, first
    served. Elsewhere (workers, commands) it waits for the publish.
    """
    loop = _server_loop
    if loop is not None and loop.is_running() and threading.get_ident() != _server_thread:
        future = asyncio.run_coroutine_threadsafe(apublish(**kwargs), loop)
        future.add_done_callback(_log_failure)
        return
    try:
        async_to_sync(apublish)(**kwargs)
    except Exception:  # at-most-once: a lost event is recovered by the clients' seq resync
        logger.exception("fan-out publish failed for %s %s", kwargs.get("kind"), kwargs.get("id"))


def sockets_close(
    *,
    person_id: int,
    token_id: int | None = None,
    session_key: str | None = None,
    code: int = 4401,
    reason: str = "signed out",
) -> None:
    """Close a person's sockets: all, or those signed in with one token or session."""
    publish(
        kind=PERSON,
        object_id=person_id,
        control={
            "action": "close",
            "token_id": token_id,
            "session_key": session_key,
            "code": code,
            "reason": reason,
        },
    )


def frame_text(payload: dict) -> str:
    """Return the wire text of a server frame: compact JSON, serialised once per publish."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def person_frame_send(*, person_id: int, frame: str, control: dict | None = None) -> None:
    """Send a serialised frame to every socket of one person."""
    publish(kind=PERSON, object_id=person_id, frame=frame, control=control)


def conversation_frame_send(
    *,
    conversation_id: int,
    frame: str,
    exclude_person: int | None = None,
    exclude_people: list[int] | None = None,
) -> None:
    """Send a serialised frame to every socket attached to a conversation (but those of the
    excluded people)."""
    publish(
        kind=CONVERSATION,
        object_id=conversation_id,
        frame=frame,
        exclude_person=exclude_person,
        exclude_people=exclude_people,
    )


def watchers_frame_send(*, person_id: int, level: str, frame: str) -> None:
    """Send a serialised frame to every socket watching the person at this level."""
    publish(kind=WATCH, object_id=person_id, level=level, frame=frame)
