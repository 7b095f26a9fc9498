"""Presence fan-out benchmark: one person watched by W connected watchers changes state N times.

The watched person holds one WebSocket (her endpoint: without one she is offline) and changes
her availability N times, alternating busy and available, by ``presence.set`` frame (default)
or ``PUT /api/v1/presence/``. Each change carries a note "bench <i>" so that every watcher's
``presence.update`` can be matched to its change. W watchers are connected and have sent
``presence.subscribe``; the watched person grants some of them workgroup, some friends &
family (Contact rows) and the rest the default (colleagues), so the update travels in several
watch groups.

Reported: time from sending a change until every watcher has it (p50/p99/max over the
changes), single-delivery latency, deliveries per change, the ack time, channel-layer sends
per change (PUBLISH commands seen by Redis MONITOR on the bench's private redis-server) and
the process-level receives they cause (PUBSUB NUMSUB), and CPU per change.

Run from the repository root (PostgreSQL on 127.0.0.1, redis-server on the PATH)::

    .venv/bin/python -m bench.presence                 # 1,000 watchers, 40 changes, < 3 min
    .venv/bin/python -m bench.presence --watchers 200 --changes 10 --via rest
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

if not __package__:
    # Run as a script (python bench/presence.py): make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fanout import (
    HOST,
    VENV_BIN,
    Processes,
    WorkerPool,
    admin_sql,
    cpu_by_command,
    free_port,
    install_signal_handlers,
    log,
    parley_env,
    percentile,
    proc_cpu,
    report_server_logs,
    run_checked,
    wait_for_port,
)
from bench.loadgen import OP_TEXT, TYPE_RE, ConnectSpec, Stats, Worker, WsClient

WATCHED = "watched"
# The watched person's note tags each change; the frame is serialised compactly
# (directory.realtime.frame_text).
NOTE_RE = re.compile(rb'"note":"bench (\d+)"')
SUBSCRIBED = b'"ref":"sub"'
WATCHER_RELATIONSHIPS = ("workgroup", "friends_family")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.presence",
        description="Presence fan-out benchmark: one person watched by W connected watchers "
        "changes state N times; time until every watcher has each change, layer sends per "
        "change.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--watchers", type=int, default=1000, help="connected WebSocket watchers")
    p.add_argument(
        "--workgroup", type=int, default=100, help="watchers the watched person puts in workgroup"
    )
    p.add_argument("--friends", type=int, default=100, help="watchers she puts in friends & family")
    p.add_argument("--changes", type=int, default=40, help="measured state changes")
    p.add_argument("--warmup", type=int, default=3, help="unmeasured changes first")
    p.add_argument("--gap", type=float, default=0.5, help="seconds between changes")
    p.add_argument(
        "--via",
        choices=["ws", "rest"],
        default="ws",
        help="how the watched person changes state: presence.set frame or PUT /api/v1/presence/",
    )
    p.add_argument("--servers", type=int, default=2, help="Parley uvicorn processes")
    p.add_argument(
        "--grace", type=float, default=2.0, help="seconds after the last change before counting"
    )
    p.add_argument("--client-procs", type=int, default=1, help="load-generator processes")
    p.add_argument("--connect-concurrency", type=int, default=50, help="per client process")
    p.add_argument("--db-name", default="parley_bench_presence", help="created and dropped")
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for Parley's processes, repeatable",
    )
    p.add_argument("--keep-logs", action="store_true", help="keep the server logs directory")
    p.add_argument("--setup-data", metavar="OUT", help=argparse.SUPPRESS)  # internal
    args = p.parse_args(argv)
    if any("=" not in item for item in args.server_env):
        p.error("--server-env takes NAME=VALUE")
    if "bench" not in args.db_name:
        p.error("--db-name must contain 'bench': the run drops that database")
    if min(args.watchers, args.servers, args.client_procs, args.changes) < 1:
        p.error("--watchers, --servers, --client-procs and --changes must be >= 1")
    if args.workgroup < 0 or args.friends < 0 or args.workgroup + args.friends > args.watchers:
        p.error("--workgroup + --friends must be between 0 and --watchers")
    if args.gap <= 0:
        p.error("--gap must be > 0")
    # Presence queues no Celery task: tasks run in-process and no worker is started.
    args.eager_tasks = True
    return args


# --------------------------------------------------------------------------- data (in Django)


def setup_data(args: argparse.Namespace) -> None:
    """Create the watched person, the watchers, her Contact rows and one token each."""
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password

    from directory.models import Person
    from directory.services import token_create
    from presence.models import Contact

    t0 = time.monotonic()
    password = make_password("bench-password")  # one hash for everyone; tokens sign in
    width = max(4, len(str(args.watchers - 1)))
    watched = Person.objects.create(
        username=WATCHED, display_name="Watched Person", password=password
    )
    watchers = Person.objects.bulk_create(
        [
            Person(username=f"watcher{i:0{width}d}", display_name=f"Watcher {i}", password=password)
            for i in range(args.watchers)
        ],
        batch_size=1000,
    )
    levels = ["workgroup"] * args.workgroup + ["friends_family"] * args.friends
    Contact.objects.bulk_create(
        [
            Contact(owner=watched, person=w, relationship=level, group="bench")
            for w, level in zip(watchers, levels, strict=False)
        ],
        batch_size=1000,
    )
    t1 = time.monotonic()
    tokens = [token_create(person=p, label="bench")[1] for p in [watched, *watchers]]
    t2 = time.monotonic()
    Path(args.setup_data).write_text(json.dumps({"watched": tokens[0], "watchers": tokens[1:]}))
    print(
        f"{len(watchers) + 1} people and {len(levels)} contacts {t1 - t0:.2f}s, "
        f"{len(tokens)} tokens {t2 - t1:.2f}s"
    )


# --------------------------------------------------------------------------- load generator


class PresenceStats(Stats):
    """Per change, when each watcher first got it; plus the subscribe replies."""

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[int, dict[int, int]] = {}  # change -> watcher gidx -> receive ns
        self.dups: Counter[int] = Counter()
        self.subscribed = 0

    def on_client_text(self, gidx: int, payload: bytes, now_ns: int) -> None:
        self.frames += 1
        if SUBSCRIBED in payload:
            self.subscribed += 1
            return
        m = NOTE_RE.search(payload)
        if m is not None:
            seen = self.first.setdefault(int(m.group(1)), {})
            if gidx in seen:
                self.dups[int(m.group(1))] += 1
            else:
                seen[gidx] = now_ns
            return
        tm = TYPE_RE.search(payload)
        kind = tm.group(1).decode() if tm else "?"
        self.idle_types[kind] += 1
        if kind not in self.idle_samples:
            self.idle_samples[kind] = (
                f"{len(payload)} bytes: {payload[:300].decode(errors='replace')}"
            )


class Tap:
    """What one WsClient reports to: the worker's stats, with the client's index added."""

    def __init__(self, stats: PresenceStats, gidx: int) -> None:
        self.stats = stats
        self.gidx = gidx

    def on_text(self, payload: bytes, now_ns: int) -> None:
        self.stats.on_client_text(self.gidx, payload, now_ns)

    @property
    def disconnects(self) -> int:
        return self.stats.disconnects

    @disconnects.setter
    def disconnects(self, value: int) -> None:
        self.stats.disconnects = value

    @property
    def disconnect_samples(self) -> list[str]:
        return self.stats.disconnect_samples


class PresenceWorker(Worker):
    """bench.loadgen's worker, whose clients subscribe to presence and time its updates."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.stats: PresenceStats = PresenceStats()

    def client_for(self, gidx: int) -> WsClient:
        return WsClient(Tap(self.stats, gidx), gidx)  # type: ignore[arg-type]

    async def subscribe(self, username: str, timeout: float) -> dict[str, Any]:
        frame = json.dumps({"type": "presence.subscribe", "users": [username], "ref": "sub"})
        live = [c for c in self.clients.values() if c.is_open]
        for client in live:
            client.write(OP_TEXT, frame.encode())
        deadline = time.monotonic() + timeout
        while self.stats.subscribed < len(live) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return {"asked": len(live), "answered": self.stats.subscribed}

    async def handle(self, cmd: tuple[Any, ...]) -> Any:
        name = cmd[0]
        if name == "subscribe":
            return await self.subscribe(cmd[1], cmd[2])
        if name == "presence_probe":
            stats = self.stats
            return {
                "frames": stats.frames,
                "cpu": time.process_time(),
                "open": sum(1 for c in self.clients.values() if c.is_open),
                "got": {change: len(seen) for change, seen in stats.first.items()},
            }
        if name == "presence_collect":
            stats = self.stats
            return {
                "first": {
                    change: (array.array("q", seen), array.array("q", seen.values()))
                    for change, seen in stats.first.items()
                },
                "dups": dict(stats.dups),
                "other_types": dict(stats.idle_types),
                "other_samples": stats.idle_samples,
                "disconnects": stats.disconnects,
                "disconnect_samples": stats.disconnect_samples,
            }
        return await super().handle(cmd)


def presence_worker_main(conn: Connection) -> None:
    """Entry point of a load-generator process (as bench.loadgen.worker_main)."""
    import signal

    import uvloop

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(PresenceWorker(conn).serve())


class PresencePool(WorkerPool):
    """bench.fanout's pool of load-generator processes, running the presence worker."""

    def __init__(self, size: int) -> None:
        super().__init__(size, target=presence_worker_main)


# --------------------------------------------------------------------------- Redis MONITOR


class PublishMonitor:
    """Every PUBLISH the channel layer's Redis executes, with Redis's timestamp and channel.

    A raw MONITOR connection read by a thread: each line is ``<unix time> [db addr] "CMD"
    "arg" ...`` with binary arguments escaped, so one line per command.
    """

    LINE_RE = re.compile(rb'^\+(\d+\.\d+) \[[^\]]*\] "([A-Za-z]+)"(?: "((?:[^"\\]|\\.)*)")?')

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=5)
        self.sock.sendall(b"MONITOR\r\n")
        self.publishes: list[tuple[float, str]] = []
        self.commands: Counter[str] = Counter()
        self.stopping = False
        self.buf = b""
        first = self._line()
        if first != b"+OK":
            raise RuntimeError(f"MONITOR refused: {first!r}")
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._run, name="redis-monitor", daemon=True)
        self.thread.start()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _run(self) -> None:
        while not self.stopping:
            try:
                line = self._line()
            except TimeoutError:
                continue
            except (OSError, EOFError):
                return
            m = self.LINE_RE.match(line)
            if m is None:
                continue
            command = m.group(2).decode().upper()
            self.commands[command] += 1
            if command == "PUBLISH":
                self.publishes.append((float(m.group(1)), (m.group(3) or b"").decode()))

    def stop(self) -> None:
        self.stopping = True
        self.thread.join(2)
        with contextlib.suppress(OSError):
            self.sock.close()


def numsub(port: int, channels: list[str]) -> dict[str, int]:
    """PUBSUB NUMSUB: how many subscriber connections (server processes) each channel has."""
    import redis

    client = redis.Redis(host=HOST, port=port)
    try:
        return (
            {
                (ch.decode() if isinstance(ch, bytes) else ch): int(n)
                for ch, n in client.pubsub_numsub(*channels)
            }
            if channels
            else {}
        )
    finally:
        client.close()


# --------------------------------------------------------------------------- the watched person


class Watched:
    """The watched person's own WebSocket (her endpoint) and her way of changing state."""

    def __init__(self, port: int, token: str, via: str) -> None:
        from websockets.sync.client import connect

        self.port, self.token, self.via = port, token, via
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(
            connect(
                f"ws://{HOST}:{port}/ws/",
                additional_headers={"Authorization": f"Bearer {token}"},
                proxy=None,
                open_timeout=60,
                close_timeout=2,
                max_size=None,
                max_queue=None,
            )
        )
        self.hello = self.take(lambda f: f["type"] == "hello", 60)
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def take(self, want, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            frame = json.loads(self.ws.recv(timeout=max(0.0, deadline - time.monotonic())))
            if want(frame):
                return frame
            if frame["type"] == "error":
                raise RuntimeError(f"the watched person's socket got {frame}")

    def change(self, ref: str, availability: str, note: str) -> tuple[int, float]:
        """Change state; return the send time (ns) and the time to the server's answer (ms)."""
        if self.via == "ws":
            body = {"type": "presence.set", "availability": availability, "note": note}
            text = json.dumps({**body, "ref": ref})
            sent = time.time_ns()
            self.ws.send(text)
            reply = self.take(lambda f: f.get("ref") == ref, 30)
            if reply["type"] != "presence.update":
                raise RuntimeError(f"presence.set answered {reply}")
            return sent, (time.time_ns() - sent) / 1e6
        request = urllib.request.Request(
            f"http://{HOST}:{self.port}/api/v1/presence/",
            data=json.dumps({"availability": availability, "note": note}).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        sent = time.time_ns()
        with self.opener.open(request, timeout=30) as response:
            response.read()
            if response.status != 200:
                raise RuntimeError(f"PUT /api/v1/presence/ answered {response.status}")
        return sent, (time.time_ns() - sent) / 1e6

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stack.close()


# --------------------------------------------------------------------------- the run


@dataclass
class Change:
    n: int
    availability: str
    sent_ns: int
    ack_ms: float
    got: int = 0
    dups: int = 0
    all_ms: float = math.nan  # until the last watcher had it (NaN: someone never did)
    spread_ms: float = math.nan  # from the first watcher's copy to the last one's
    publishes: Counter[str] = field(default_factory=Counter)


def group_kind(channel: str) -> str:
    """Name a layer channel by what it carries (the hub's groups are fanout.<kind>.<shard>)."""
    group = channel.split("__group__", 1)[1] if "__group__" in channel else channel
    parts = group.split(".")
    if len(parts) == 3 and parts[0] == "fanout":
        return {"w": "watchers", "p": "person", "c": "conversation"}.get(parts[1], group)
    return "other"


def wait_for_watchers(pool: PresencePool, change: int, expected: int, timeout: float) -> None:
    """Wait until every watcher has a change, or the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(r["got"].get(change, 0) for r in pool.call(("presence_probe",))) >= expected:
            return
        time.sleep(0.1)


def run(args: argparse.Namespace, procs: Processes, workdir: Path) -> None:
    redis_port = free_port()
    redis_cmd = ["redis-server", "--port", str(redis_port), "--bind", HOST]
    redis_cmd += ["--save", "", "--appendonly", "no"]
    redis_proc = procs.start("redis", redis_cmd, dict(os.environ))
    wait_for_port(redis_port, procs)
    redis_url = f"redis://{HOST}:{redis_port}/0"
    env = parley_env(args, redis_url)
    extra = f", extra env {' '.join(args.server_env)}" if args.server_env else ""
    default = args.watchers - args.workgroup - args.friends
    log(
        f"### Presence: 1 person watched by {args.watchers} watchers ({args.workgroup} "
        f"workgroup, {args.friends} friends & family, {default} colleagues by default), "
        f"{args.servers} uvicorn process(es), {args.changes} changes by "
        f"{'presence.set frame' if args.via == 'ws' else 'PUT /api/v1/presence/'} "
        f"{args.gap:g}s apart; database {args.db_name}, channel layer {redis_url}{extra}"
    )
    admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{args.db_name}"')
    py = str(VENV_BIN / "python")
    run_checked([py, "manage.py", "migrate", "--noinput"], env, "migrate")
    data_path = workdir / "presence_data.json"
    setup_cmd = [py, "-m", "bench.presence", "--setup-data", str(data_path)]
    setup_cmd += ["--watchers", str(args.watchers), "--workgroup", str(args.workgroup)]
    setup_cmd += ["--friends", str(args.friends), "--db-name", args.db_name]
    for line in run_checked(setup_cmd, env, "data setup").splitlines():
        log(f"    {line}")
    data = json.loads(data_path.read_text())

    ports = [free_port() for _ in range(args.servers)]
    for i, port in enumerate(ports):
        cmd = [str(VENV_BIN / "uvicorn"), "config.asgi:application", "--host", HOST]
        cmd += ["--port", str(port), "--ws", "websockets-sansio", "--ws-max-size", "1048576"]
        cmd += ["--no-access-log", "--log-level", "warning"]
        procs.start(f"parley{i}", cmd, env)
    for port in ports:
        wait_for_port(port, procs)

    pool = PresencePool(args.client_procs)
    watched: Watched | None = None
    try:
        specs: list[ConnectSpec] = [
            (g, HOST, ports[g % len(ports)], "/ws/", [("Authorization", f"Bearer {token}")])
            for g, token in enumerate(data["watchers"])
        ]
        shards: list[list[ConnectSpec]] = [[] for _ in range(pool.size)]
        for spec in specs:
            shards[spec[0] % pool.size].append(spec)
        t0 = time.monotonic()
        replies = pool.call(
            ("connect",), [(s, args.connect_concurrency, uuid.uuid4().hex[:8]) for s in shards]
        )
        connected = sum(len(r["connected"]) for r in replies)
        log(f"  connected {connected}/{args.watchers} watchers in {time.monotonic() - t0:.1f}s")
        for gidx, why in [f for r in replies for f in r["failures"]][:5]:
            log(f"    connect failure, watcher {gidx}: {why}")
        if connected == 0:
            raise RuntimeError("no watcher could connect")
        t0 = time.monotonic()
        subs = pool.call(("subscribe", WATCHED, 120.0))
        answered = sum(r["answered"] for r in subs)
        log(f"  {answered}/{connected} presence.subscribe answered in {time.monotonic() - t0:.1f}s")
        if answered < connected:
            raise RuntimeError("some watchers' presence.subscribe got no answer")

        t0 = time.monotonic()
        watched = Watched(ports[0], data["watched"], args.via)
        log(
            f"  the watched person connected to server 0 in {time.monotonic() - t0:.1f}s "
            f"(hello lists her {len(watched.hello.get('contacts', []))} contacts)"
        )
        # Her connection announces her available to the watchers: let that settle first.
        time.sleep(1.0)
        for w in range(args.warmup):
            watched.change(f"w{w}", "busy" if w % 2 == 0 else "available", f"warm-up {w}")
            time.sleep(args.gap)
        time.sleep(1.0)

        monitor = PublishMonitor(redis_port)
        cpu_servers0 = sum(
            proc_cpu(p.pid) for n, p in procs.procs.items() if n.startswith("parley")
        )
        cpu_redis0 = proc_cpu(redis_proc.pid)
        cpu_pg0 = cpu_by_command(("postgres",))
        cpu_clients0 = sum(r["cpu"] for r in pool.call(("presence_probe",)))
        changes: list[Change] = []
        start = time.monotonic()
        for n in range(1, args.changes + 1):
            availability = "busy" if n % 2 else "available"
            sent, ack = watched.change(f"c{n}", availability, f"bench {n}")
            changes.append(Change(n, availability, sent, ack))
            time.sleep(max(0.0, start + n * args.gap - time.monotonic()))
        wait_for_watchers(pool, args.changes, connected, args.grace)
        window = time.monotonic() - start
        cpu = {
            "servers": sum(
                proc_cpu(p.pid) for n, p in procs.procs.items() if n.startswith("parley")
            )
            - cpu_servers0,
            "redis": proc_cpu(redis_proc.pid) - cpu_redis0,
            "postgres": cpu_by_command(("postgres",)) - cpu_pg0,
            "clients": sum(r["cpu"] for r in pool.call(("presence_probe",))) - cpu_clients0,
        }
        time.sleep(args.grace)
        monitor.stop()
        collected = pool.call(("presence_collect",))
        receivers = numsub(redis_port, sorted({ch for _, ch in monitor.publishes}))
        report(args, connected, changes, collected, monitor, receivers, cpu, window)
        pool.call(("close",))
    finally:
        if watched is not None:
            watched.close()
        pool.close()
        server_logs = {n: procs.log_text(n) for n in list(procs.procs) if n.startswith("parley")}
        for i in range(args.servers):
            procs.stop(f"parley{i}")
        report_server_logs(server_logs)
        procs.stop("redis")


def report(
    args: argparse.Namespace,
    watchers: int,
    changes: list[Change],
    collected: list[dict[str, Any]],
    monitor: PublishMonitor,
    receivers: dict[str, int],
    cpu: dict[str, float],
    window: float,
) -> None:
    by_change: dict[int, Change] = {c.n: c for c in changes}
    single = array.array("d")
    received: dict[int, array.array] = {}
    for r in collected:
        for n, (_gidx, ns) in r["first"].items():
            received.setdefault(n, array.array("q")).extend(ns)
        for n, count in r["dups"].items():
            if n in by_change:
                by_change[n].dups += count
    for c in changes:
        ns = received.get(c.n, array.array("q"))
        c.got = len(ns)
        single.extend((t - c.sent_ns) / 1e6 for t in ns)
        if c.got >= watchers:
            c.all_ms = (max(ns) - c.sent_ns) / 1e6
            c.spread_ms = (max(ns) - min(ns)) / 1e6
    # Each publish belongs to the change sent last before it (changes are --gap apart).
    sends = [c.sent_ns / 1e9 for c in changes]
    stray = Counter()
    for at, channel in monitor.publishes:
        i = next((k for k in range(len(sends) - 1, -1, -1) if sends[k] <= at + 0.005), None)
        if i is None:
            stray[group_kind(channel)] += 1
        else:
            changes[i].publishes[channel] += 1

    complete = sorted(c.all_ms for c in changes if not math.isnan(c.all_ms))
    all_ms = array.array("d", complete)
    single = array.array("d", sorted(single))
    acks = array.array("d", sorted(c.ack_ms for c in changes))
    n = len(changes)

    def line(label: str, text: str) -> None:
        log(f"  {label + ':':<34} {text}")

    log(f"\n### Results ({n} measured changes, {watchers} connected watchers)")
    line(
        "until every watcher has it",
        (
            f"p50 {percentile(all_ms, 0.5):.1f} ms, p99 {percentile(all_ms, 0.99):.1f} ms, "
            f"max {all_ms[-1]:.1f} ms"
            if all_ms
            else "never"
        )
        + f" ({len(complete)}/{n} changes reached every watcher)",
    )
    spread = array.array("d", sorted(c.spread_ms for c in changes if not math.isnan(c.spread_ms)))
    if spread:
        line(
            "first to last watcher",
            f"p50 {percentile(spread, 0.5):.1f} ms, p99 {percentile(spread, 0.99):.1f} ms "
            "(the fan-out's share of the above)",
        )
    if single:
        line(
            "single deliveries",
            f"p50 {percentile(single, 0.5):.1f} ms, p99 {percentile(single, 0.99):.1f} ms, "
            f"max {single[-1]:.1f} ms",
        )
    got = [c.got for c in changes]
    line(
        "deliveries per change",
        f"mean {sum(got) / n:.1f} (min {min(got)}, max {max(got)}; expected {watchers}), "
        f"duplicates {sum(c.dups for c in changes)}, "
        f"missing {sum(max(0, watchers - g) for g in got)}",
    )
    line(
        "presence.set -> reply" if args.via == "ws" else "PUT /api/v1/presence/ -> 200",
        f"p50 {percentile(acks, 0.5):.1f} ms, p99 {percentile(acks, 0.99):.1f} ms",
    )
    per_change = [sum(c.publishes.values()) for c in changes]
    kinds: Counter[str] = Counter()
    for c in changes:
        for channel, count in c.publishes.items():
            kinds[group_kind(channel)] += count
    breakdown = ", ".join(f"{kinds[k] / n:g} to {k} groups" for k in sorted(kinds))
    line(
        "channel-layer sends per change",
        f"{sum(per_change) / n:g} PUBLISH (min {min(per_change)}, max {max(per_change)}; "
        f"{breakdown}), counted by Redis MONITOR",
    )
    proc_receives = sum(receivers.get(ch, 0) * k for c in changes for ch, k in c.publishes.items())
    line(
        "layer receives per change",
        f"{proc_receives / n:g} (each PUBLISH x the server processes subscribed to its "
        "channel, PUBSUB NUMSUB)",
    )
    if stray:
        line("publishes before the first change", str(dict(stray)))
    others = Counter(monitor.commands)
    others.pop("PUBLISH", None)
    if others:
        line("other Redis commands meanwhile", str(dict(others)))
    line(
        "CPU per change",
        ", ".join(f"{name} {1000 * sec / n:.1f} ms" for name, sec in cpu.items())
        + f" (CPU over the {window:.1f}s of changes / {n}; postgres: every PostgreSQL "
        "process on the machine)",
    )
    types: Counter[str] = Counter()
    samples: dict[str, str] = {}
    for r in collected:
        types.update(r["other_types"])
        for k, v in r["other_samples"].items():
            samples.setdefault(k, v)
    if types:
        log("  other frames at the watchers: " + ", ".join(f"{k}={v}" for k, v in types.items()))
        for k, v in samples.items():
            if k != "presence.update":
                log(f"    first {k}: {v}")
    disconnects = sum(r["disconnects"] for r in collected)
    log(f"  watcher disconnects: {disconnects}")
    for sample in [s for r in collected for s in r["disconnect_samples"]][:5]:
        log(f"    {sample}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.setup_data:
        setup_data(args)
        return 0
    install_signal_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-presence-"))
    procs = Processes(workdir)
    t0 = time.monotonic()
    try:
        run(args, procs, workdir)
    except KeyboardInterrupt:
        log("\ninterrupted; cleaning up")
        return 130
    except RuntimeError as exc:
        log(f"\nERROR: {exc}")
        return 1
    finally:
        procs.stop_all()
        with contextlib.suppress(Exception):
            admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
        if args.keep_logs:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        log(f"total time {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
