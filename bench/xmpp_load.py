"""XMPP load for the fan-out bench: the same worker protocol as bench/loadgen.py, spoken to
an XMPP server's multi-user chat (XEP-0045) over plain TCP on loopback.

A client opens a stream, authenticates with SASL ANONYMOUS, binds a resource and joins its
rooms (``room@conference.localhost/u<gidx>``); the first client of each room also accepts
the default configuration, so the room is unlocked before the others join. A sent message
is a ``groupchat`` message whose body carries the send time and the message key as in
bench/loadgen.py; the room reflects it to every occupant, the sender included, as the bare
server and Parley do. One regex over each ``<message>`` stanza finds the key: no XML parser
on the hot path.

Only for bench/fanout.py (``WorkerPool(size, target=xmpp_worker_main)``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from multiprocessing.connection import Connection
from xml.sax.saxutils import escape

from bench.loadgen import Stats, StepRecord, Worker, make_body

DOMAIN = "localhost"
MUC = f"conference.{DOMAIN}"
XMPP_BODY_RE = re.compile(rb"<body>(\d+):(\d+)\.(\d+):")
STREAM_OPEN = (
    f"<?xml version='1.0'?><stream:stream to='{DOMAIN}' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
).encode()
MESSAGE_END = b"</message>"
# Servers quote attributes with ' or ": both are matched.
SELF_PRESENCE_RE = re.compile(rb"<status code=['\"]110['\"]")
BIND_RESULT_RE = re.compile(rb"id=['\"]bind['\"]")
CONFIG_RESULT_RE = re.compile(rb"id=['\"]cfg-")
ERROR_TYPE_RE = re.compile(rb"^<message[^>]*type=['\"]error['\"]")


class XmppStats(Stats):
    """Counts deliveries from ``<message>`` stanzas; error stanzas count as errors."""

    def on_stanza(self, stanza: bytes, now_ns: int) -> None:
        self.frames += 1
        if ERROR_TYPE_RE.search(stanza):
            self.errors_total += 1
            if len(self.idle_errors) < 5:
                self.idle_errors.append(stanza[:300].decode(errors="replace"))
            return
        m = XMPP_BODY_RE.search(stanza)
        if m is None:
            self.idle_types["message(other)"] += 1
            return
        rec = self.record(int(m.group(2)))
        if rec is None:
            self.late += 1
            return
        rec.received[int(m.group(3))] += 1
        rec.latencies_ms.append((now_ns - int(m.group(1))) / 1e6)


class XmppClient(asyncio.Protocol):
    """One XMPP client connection: login and room joins, then ``<message>`` stanzas."""

    def __init__(self, stats: XmppStats, gidx: int) -> None:
        loop = asyncio.get_running_loop()
        self.stats = stats
        self.gidx = gidx
        self.nick = f"u{gidx}"
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.is_open = False
        self.handshake: asyncio.Future[str] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.rooms: list[str] = []
        self.creates: list[str] = []
        self.phase = "features"
        self.joined = 0
        self.configured = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self, rooms: list[str], creates: list[str]) -> None:
        self.rooms, self.creates = rooms, creates
        self.write(STREAM_OPEN)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def fail(self, why: str) -> None:
        if not self.handshake.done():
            self.handshake.set_result(why)
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.is_open:
            self.on_messages()
            return
        text = bytes(buf)
        if b"<stream:error" in text or b"<failure" in text:
            self.fail(f"{self.phase}: {text[:300].decode(errors='replace')}")
            return
        if self.phase == "features" and b"</stream:features>" in text:
            del buf[:]
            self.phase = "auth"
            self.write(
                b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>"
                + base64.b64encode(self.nick.encode())
                + b"</auth>"
            )
        elif self.phase == "auth" and b"<success" in text:
            del buf[:]
            self.phase = "features2"
            self.write(STREAM_OPEN)
        elif self.phase == "features2" and b"</stream:features>" in text:
            del buf[:]
            self.phase = "bind"
            self.write(
                b"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                b"<resource>bench</resource></bind></iq>"
            )
        elif self.phase == "bind" and BIND_RESULT_RE.search(text) and b"</iq>" in text:
            del buf[:]
            self.phase = "join"
            for room in self.rooms:
                self.write(
                    f"<presence to='{room}@{MUC}/{self.nick}'>"
                    "<x xmlns='http://jabber.org/protocol/muc'>"
                    "<history maxstanzas='0'/></x></presence>".encode()
                )
        elif self.phase == "join":
            # Our own presence in a room carries status 110; a new room's creator accepts
            # the default configuration (an instant room, XEP-0045 10.1.2).
            self.joined = len(SELF_PRESENCE_RE.findall(text))
            configured = len(CONFIG_RESULT_RE.findall(text))
            if self.creates and self.joined >= len(self.rooms) and self.configured == 0:
                self.configured = -1
                for room in self.creates:
                    self.write(
                        f"<iq type='set' id='cfg-{room}' to='{room}@{MUC}'>"
                        "<query xmlns='http://jabber.org/protocol/muc#owner'>"
                        "<x xmlns='jabber:x:data' type='submit'/></query></iq>".encode()
                    )
            if self.joined >= len(self.rooms) and configured >= len(self.creates):
                del buf[:]
                self.is_open = True
                self.handshake.set_result("")

    def on_messages(self) -> None:
        buf = self.buf
        now_ns = time.time_ns()
        pos = 0
        while (end := buf.find(MESSAGE_END, pos)) >= 0:
            start = buf.rfind(b"<message", pos, end)
            if start >= 0:
                self.stats.on_stanza(bytes(buf[start:end]), now_ns)
            pos = end + len(MESSAGE_END)
        if pos:
            del buf[:pos]
        elif len(buf) > 65536 and b"<message" not in buf:
            del buf[: buf.rfind(b">") + 1]  # presence or iq traffic only

    def connection_lost(self, exc: Exception | None) -> None:
        if self.is_open:
            self.is_open = False
            self.stats.disconnects += 1
            if len(self.stats.disconnect_samples) < 5:
                self.stats.disconnect_samples.append(f"client {self.gidx}: {exc!r}")
        if not self.handshake.done():
            self.handshake.set_result(f"connection lost in {self.phase} ({exc!r})")
        if not self.closed.done():
            self.closed.set_result(None)

    def send_groupchat(self, room: str, body: str) -> None:
        self.write(
            f"<message to='{room}@{MUC}' type='groupchat'><body>{escape(body)}</body>"
            "</message>".encode()
        )

    def close(self) -> None:
        self.is_open = False
        self.write(b"</stream:stream>")
        asyncio.get_running_loop().call_later(1.0, self.transport_close)

    def transport_close(self) -> None:
        if self.transport is not None:
            self.transport.close()


# (gidx, host, port, rooms, rooms this client creates)
XmppSpec = tuple[int, str, int, list[str], list[str]]


class XmppWorker(Worker):
    """bench/loadgen.Worker's commands over XMPP clients."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.stats = XmppStats()

    async def connect_one(self, spec: XmppSpec, sem: asyncio.Semaphore) -> str:  # type: ignore[override]
        gidx, host, port, rooms, creates = spec
        loop = asyncio.get_running_loop()
        async with sem:
            try:
                _, client = await asyncio.wait_for(
                    loop.create_connection(lambda: XmppClient(self.stats, gidx), host, port), 30
                )
                client.start(rooms, creates)
                problem = await asyncio.wait_for(client.handshake, 60)
            except (OSError, TimeoutError) as exc:
                return f"{type(exc).__name__}: {exc}"
        if not problem:
            self.clients[gidx] = client  # type: ignore[assignment]
        return problem

    async def run_sends(self, step: int, start_wall: float, items: list) -> None:
        loop = asyncio.get_running_loop()
        rec = self.stats.record(step) or StepRecord()
        start = loop.time() + (start_wall - time.time())
        for offset, gidx, conv, n in items:
            delay = start + offset - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            client = self.clients.get(gidx)
            if client is None or not client.is_open:
                rec.skipped += 1
                continue
            body = make_body(step, n)
            rec.send_ns[n] = int(body.split(":", 1)[0])
            rec.sent.append(n)
            self.stats.sent_total += 1
            client.send_groupchat(f"r{conv}", body)  # type: ignore[attr-defined]


def xmpp_worker_main(conn: Connection) -> None:
    """Entry point of an XMPP load-generator process."""
    import signal

    import uvloop

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(XmppWorker(conn).serve())
