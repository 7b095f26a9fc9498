"""WebSocket load generator: worker processes holding many light client connections.

Each worker process runs one uvloop event loop with a minimal RFC 6455 client written on
``asyncio.Protocol``: the ``websockets`` client costs several times more CPU per received
frame, and on a 2-core machine the load generator shares the cores with the server under
test, so every microsecond spent here is taken from the measurement.

The parent (bench/fanout.py) drives workers through a ``multiprocessing`` pipe with small
command tuples; see ``Worker.handle``.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import struct
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from websockets.speedups import apply_mask

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
BODY_SIZE = 100
# The send timestamp and the message key travel inside the body, so that one regex over the
# raw frame finds them whatever the envelope looks like (Parley's message.new or the bare
# server's echoed message.send), without a json.loads per delivery.
BODY_RE = re.compile(rb'"body"\s*:\s*"(\d+):(\d+)\.(\d+):')
TYPE_RE = re.compile(rb'"type"\s*:\s*"([^"]*)"')

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def make_body(step: int, n: int) -> str:
    """Return a 100-byte body carrying the send time (ns) and the message key."""
    head = f"{time.time_ns()}:{step}.{n}:"
    return head + "x" * (BODY_SIZE - len(head))


def encode_frame(opcode: int, payload: bytes) -> bytes:
    """Encode one masked client frame (clients must mask, RFC 6455 section 5.3)."""
    key = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + key + apply_mask(payload, key)


@dataclass
class StepRecord:
    """What one worker saw for one measured step."""

    received: Counter[int] = field(default_factory=Counter)
    latencies_ms: array.array = field(default_factory=lambda: array.array("d"))
    sent: list[int] = field(default_factory=list)
    send_ns: dict[int, int] = field(default_factory=dict)
    skipped: int = 0
    acks: int = 0
    ack_ms: array.array = field(default_factory=lambda: array.array("d"))
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)


class Stats:
    """Counters shared by all connections of a worker; the hot path is ``on_text``."""

    def __init__(self) -> None:
        self.frames = 0
        # Run totals, late frames included: the database check compares stored rows with
        # every ack, and draining waits until each sent message is acked or refused.
        self.sent_total = 0
        self.acks_total = 0
        self.errors_total = 0
        self.steps: dict[int, StepRecord] = {}
        self.closed_steps: set[int] = set()
        self.late = 0
        self.disconnects = 0
        self.disconnect_samples: list[str] = []
        self.idle_types: Counter[str] = Counter()
        self.idle_samples: dict[str, str] = {}
        self.idle_errors: list[str] = []

    def record(self, step: int) -> StepRecord | None:
        rec = self.steps.get(step)
        if rec is None:
            if step in self.closed_steps:
                return None
            rec = self.steps[step] = StepRecord()
        return rec

    def on_text(self, payload: bytes, now_ns: int) -> None:
        self.frames += 1
        m = BODY_RE.search(payload)
        if m is not None:
            rec = self.record(int(m.group(2)))
            if rec is None:
                self.late += 1
                return
            rec.received[int(m.group(3))] += 1
            rec.latencies_ms.append((now_ns - int(m.group(1))) / 1e6)
            return
        self.on_other(payload, now_ns)

    def on_other(self, payload: bytes, now_ns: int) -> None:
        """Handle any non-delivery frame: acks, errors and frame types we only count."""
        tm = TYPE_RE.search(payload)
        kind = tm.group(1).decode() if tm else "?"
        if kind not in ("message.ack", "error"):
            self.idle_types[kind] += 1
            if kind not in self.idle_samples:
                self.idle_samples[kind] = (
                    f"{len(payload)} bytes: {payload[:400].decode(errors='replace')}"
                )
            return
        try:
            frame = json.loads(payload)
        except ValueError:
            self.idle_types["unparsable"] += 1
            return
        if kind == "error":
            self.errors_total += 1
        else:
            self.acks_total += 1
        ref = str(frame.get("ref") or "")
        step_s, _, n_s = ref.partition(".")
        rec = self.record(int(step_s)) if step_s.isdigit() and n_s.isdigit() else None
        if kind == "error":
            text = json.dumps(frame)[:300]
            if rec is None:
                if len(self.idle_errors) < 5:
                    self.idle_errors.append(text)
                return
            rec.errors += 1
            if len(rec.error_samples) < 5:
                rec.error_samples.append(text)
            return
        if rec is None:
            self.idle_types["message.ack(unmatched)"] += 1
            return
        rec.acks += 1
        sent_at = rec.send_ns.get(int(n_s))
        if sent_at is not None:
            rec.ack_ms.append((now_ns - sent_at) / 1e6)


class WsClient(asyncio.Protocol):
    """One WebSocket client connection (handshake, frame parser, ping replies)."""

    def __init__(self, stats: Stats, gidx: int) -> None:
        self.stats = stats
        self.gidx = gidx
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.is_open = False
        self.handshake: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.fragments: list[bytes] = []
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self, host: str, port: int, path: str, headers: list[tuple[str, str]]) -> None:
        """Send the opening handshake."""
        self.key = base64.b64encode(os.urandom(16))
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self.key.decode()}",
            "Sec-WebSocket-Version: 13",
            *(f"{k}: {v}" for k, v in headers),
        ]
        self.transport_write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.is_open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            self.check_handshake(head)
            if not self.is_open:
                return
        self.parse_frames()

    def check_handshake(self, head: str) -> None:
        status = head.split("\r\n", 1)[0]
        accept = base64.b64encode(
            hashlib.sha1(self.key + WS_GUID, usedforsecurity=False).digest()
        ).decode()
        if " 101 " not in status + " " or accept not in head:
            if not self.handshake.done():
                self.handshake.set_result(status or "empty response")
            self.transport_close()
            return
        self.is_open = True
        if not self.handshake.done():
            self.handshake.set_result("")

    def parse_frames(self) -> None:
        buf = self.buf
        n = len(buf)
        pos = 0
        now_ns = time.time_ns()
        stats = self.stats
        while n - pos >= 2:
            b0 = buf[pos]
            length = buf[pos + 1] & 0x7F
            hdr = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                hdr = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hdr = 10
            end = pos + hdr + length
            if end > n:
                break
            payload = bytes(buf[pos + hdr : end])
            pos = end
            opcode = b0 & 0x0F
            if not b0 & 0x80:
                self.fragments.append(payload)
                continue
            if opcode == OP_CONT:
                payload = b"".join(self.fragments) + payload
                self.fragments.clear()
                opcode = OP_TEXT
            if opcode in (OP_TEXT, OP_BINARY):
                stats.on_text(payload, now_ns)
            elif opcode == OP_PING:
                self.write(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                self.on_close_frame(payload)
                break
        del buf[:pos]

    def on_close_frame(self, payload: bytes) -> None:
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        reason = payload[2:].decode(errors="replace")
        self.note_disconnect(f"close frame {code} {reason}".strip())
        self.write(OP_CLOSE, payload[:2])
        self.transport_close()

    def note_disconnect(self, why: str) -> None:
        if self.is_open:
            self.is_open = False
            self.stats.disconnects += 1
            if len(self.stats.disconnect_samples) < 5:
                self.stats.disconnect_samples.append(f"client {self.gidx}: {why}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.note_disconnect(f"connection lost ({exc!r})")
        if not self.handshake.done():
            self.handshake.set_result(f"connection lost before handshake ({exc!r})")
        if not self.closed.done():
            self.closed.set_result(None)

    def transport_write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def transport_close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def write(self, opcode: int, payload: bytes) -> None:
        self.transport_write(encode_frame(opcode, payload))

    def close(self) -> None:
        """Start a clean close (1000) and forget the connection."""
        self.is_open = False
        self.write(OP_CLOSE, struct.pack("!H", 1000))
        # Give the server a moment to answer the close frame before we drop TCP.
        asyncio.get_running_loop().call_later(1.0, self.transport_close)


ConnectSpec = tuple[int, str, int, str, list[tuple[str, str]]]
SendItem = tuple[float, int, int, int]  # (offset s, client gidx, conversation id, n)


class Worker:
    """The state and command loop of one load-generator process."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.stats = Stats()
        self.clients: dict[int, WsClient] = {}
        self.send_task: asyncio.Task[None] | None = None
        self.run_tag = ""

    def client_for(self, gidx: int) -> WsClient:
        """Return the protocol of client gidx (a subclass may tap its frames)."""
        return WsClient(self.stats, gidx)

    async def connect_one(self, spec: ConnectSpec, sem: asyncio.Semaphore) -> str:
        gidx, host, port, path, headers = spec
        loop = asyncio.get_running_loop()
        async with sem:
            try:
                _, client = await asyncio.wait_for(
                    loop.create_connection(lambda: self.client_for(gidx), host, port),
                    30,
                )
                client.start(host, port, path, headers)
                problem = await asyncio.wait_for(client.handshake, 60)
            except (OSError, TimeoutError) as exc:
                return f"{type(exc).__name__}: {exc}"
        if not problem:
            self.clients[gidx] = client
        return problem

    async def connect(self, specs: list[ConnectSpec], concurrency: int) -> dict[str, Any]:
        sem = asyncio.Semaphore(concurrency)
        results = await asyncio.gather(*(self.connect_one(s, sem) for s in specs))
        failures = [(s[0], r) for s, r in zip(specs, results, strict=True) if r]
        return {"connected": sorted(self.clients), "failures": failures}

    async def run_sends(self, step: int, start_wall: float, items: list[SendItem]) -> None:
        """Send on an open-loop schedule: a late send goes at once, it never shifts others."""
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
            frame = {
                "type": "message.send",
                "conversation": conv,
                "body": body,
                "client_id": f"{self.run_tag}-{step}.{n}",
                "ref": f"{step}.{n}",
            }
            rec.send_ns[n] = int(body.split(":", 1)[0])
            rec.sent.append(n)
            self.stats.sent_total += 1
            client.write(OP_TEXT, json.dumps(frame, separators=(",", ":")).encode())

    def collect(self, step: int) -> dict[str, Any]:
        rec = self.stats.steps.pop(step, None) or StepRecord()
        self.stats.closed_steps.add(step)
        return {
            "received": dict(rec.received),
            "latencies": rec.latencies_ms.tobytes(),
            "sent": rec.sent,
            "skipped": rec.skipped,
            "acks": rec.acks,
            "ack_ms": rec.ack_ms.tobytes(),
            "errors": rec.errors,
            "error_samples": rec.error_samples,
        }

    async def handle(self, cmd: tuple[Any, ...]) -> Any:
        """Run one command from the parent and return the reply."""
        name = cmd[0]
        if name == "connect":
            _, (specs, concurrency, self.run_tag) = cmd
            return await self.connect(specs, concurrency)
        if name == "probe":
            # Frame count for quiescence checks, CPU seconds for the client CPU column.
            stats = self.stats
            return {
                "frames": stats.frames,
                "cpu": time.process_time(),
                "open": sum(1 for c in self.clients.values() if c.is_open),
                "sent": stats.sent_total,
                "acks": stats.acks_total,
                "errors": stats.errors_total,
            }
        if name == "step":
            _, step, start_wall, items = cmd
            self.send_task = asyncio.create_task(self.run_sends(step, start_wall, items))
            return None
        if name == "wait_sends":
            if self.send_task is not None:
                await self.send_task
            return None
        if name == "collect":
            return self.collect(cmd[1])
        if name == "report":
            stats = self.stats
            return {
                "late": stats.late,
                "disconnects": stats.disconnects,
                "disconnect_samples": stats.disconnect_samples,
                "other_types": dict(stats.idle_types),
                "other_samples": stats.idle_samples,
                "idle_errors": stats.idle_errors,
            }
        if name == "close":
            for client in self.clients.values():
                client.close()
            waits = [c.closed for c in self.clients.values()]
            if waits:
                await asyncio.wait(waits, timeout=3)
            return None
        raise ValueError(f"unknown command {name!r}")

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                cmd = await loop.run_in_executor(None, self.conn.recv)
            except EOFError:
                return
            if cmd[0] == "exit":
                return
            try:
                reply: Any = ("ok", await self.handle(cmd))
            except Exception as exc:  # the parent reports it and stops
                reply = ("error", f"{type(exc).__name__}: {exc}")
            self.conn.send(reply)


def worker_main(conn: Connection) -> None:
    """Entry point of a load-generator process."""
    import signal

    import uvloop

    # Ctrl-C reaches the whole process group; the parent alone decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(Worker(conn).serve())
