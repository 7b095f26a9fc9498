"""Fan-out benchmark: Parley's WebSocket broadcast against a bare ``websockets`` server and
ejabberd's multi-user chat.

Every target gets the same workload: C clients connected, a few senders posting 100-byte
messages into conversations at stepped rates, every member receiving every message. Per
step it prints offered msg/s, deliveries/s, send->deliver latency percentiles, losses,
error frames and acks, then each target's delivery ratio to the bare server, a database
check that every message Parley acked was stored and archived, and one line of JSON.

Run from the repository root (PostgreSQL on 127.0.0.1, redis-server on the PATH; ejabberd
from `apt-get install ejabberd`, skipped with a note when absent)::

    .venv/bin/python -m bench.fanout --quick         # 100 rooms x 10 and a 300-member room
    .venv/bin/python -m bench.fanout                 # full default run, < 10 minutes
    .venv/bin/python -m bench.fanout --clients 200 --only bare --step-seconds 2
"""

from __future__ import annotations

import argparse
import array
import contextlib
import json
import math
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:
    # Run as a script (python bench/fanout.py): make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import ConnectSpec, SendItem, worker_main
from bench.xmpp_load import xmpp_worker_main

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
HOST = "127.0.0.1"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CLK_TCK = os.sysconf("SC_CLK_TCK")


LEGEND = """\
Columns: msg/s offered rate; sent messages sent in the step; snd distinct sending sockets;
deliv/s message frames received / step seconds; p50/p95/p99/max send->deliver latency (ms);
losses expected deliveries missing after the grace period (late counts as lost); dups extra
copies; errors error frames answering our sends; acks message.ack frames; ack50 median
send->ack (ms); srv% cli% redis% pg% CPU over the send window (100 = one core; pg% counts
every PostgreSQL process on the machine); pgconn new PostgreSQL sessions on the bench
database during the step."""


def log(msg: str) -> None:
    """Progress line; flushed so a piped run shows where it is."""
    print(msg, flush=True)


def parse_rates(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description="WebSocket fan-out benchmark: Parley vs a bare websockets broadcast server.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--servers", type=int, default=1, help="Parley uvicorn processes")
    p.add_argument("--clients", type=int, default=1000, help="WebSocket clients (= people)")
    p.add_argument("--rooms", choices=["big", "small", "both"], default="both")
    p.add_argument("--room-size", type=int, default=10, help="members per small room")
    p.add_argument("--only", choices=["bare", "parley", "ejabberd"], help="run one target only")
    p.add_argument(
        "--targets",
        default="bare,parley,ejabberd",
        help="targets to run, in order (ejabberd is skipped when not installed)",
    )
    p.add_argument(
        "--big-size",
        type=int,
        help="members of the big room (the first N clients; default: every client)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="the issue's comparison in under 5 minutes: 1,000 clients as 100 rooms of 10 "
        "and one 300-member room, 2-second steps, fewer rates",
    )
    p.add_argument("--step-seconds", type=float, default=5.0, help="send time per step")
    p.add_argument(
        "--rates",
        type=parse_rates,
        default=parse_rates("5,10,20,30,40,60,80,120"),
        help="big room: msg/s into the room, per step (deliveries/s = rate x clients)",
    )
    p.add_argument(
        "--small-rates",
        type=parse_rates,
        default=parse_rates("10,20,30,50,100,200,400,800,1600,3200,6400,12800"),
        help="small rooms: msg/s summed over all rooms, per step",
    )
    p.add_argument(
        "--grace", type=float, default=2.0, help="seconds after the last send before counting"
    )
    p.add_argument("--stop-p99-ms", type=float, default=1000.0, help="stop stepping above this")
    p.add_argument(
        "--stop-loss-pct", type=float, default=0.0, help="stop stepping when losses exceed this"
    )
    p.add_argument("--good-p99-ms", type=float, default=150.0, help="p99 bound for the ratio")
    p.add_argument(
        "--max-sender-rate",
        type=float,
        default=5.0,
        help="msg/s per sending socket; more senders are used to stay under Parley's rate limit",
    )
    p.add_argument(
        "--senders", type=int, default=10, help="minimum rotating senders per conversation"
    )
    p.add_argument(
        "--client-procs",
        type=int,
        # One process: on 2 cores it used ~60% of a core at 120k deliveries/s, while two
        # processes cost more in total and take more CPU from the server under test.
        default=1,
        help="load-generator processes (they share the machine's cores with the servers)",
    )
    p.add_argument("--connect-concurrency", type=int, default=50, help="per client process")
    p.add_argument("--db-name", default="parley_bench", help="created and dropped by the run")
    p.add_argument(
        "--redis-url",
        help="Redis for Parley's channel layer, flushed by the run (default: a private "
        "redis-server started by the bench: Redis pub/sub ignores database numbers, so on a "
        "shared server other Parley instances' events reach the bench's sockets)",
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for Parley's processes, repeatable "
        "(e.g. DATABASE_CONN_MAX_AGE=60 to compare settings)",
    )
    p.add_argument("--keep-logs", action="store_true", help="keep the server logs directory")
    p.add_argument(
        "--eager-tasks",
        action="store_true",
        help="run Celery tasks inside the server processes instead of a worker process",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.clients, args.room_size = 1000, 10
        args.big_size = args.big_size or 300
        args.step_seconds, args.grace = 2.0, 1.0
        args.rates = parse_rates("20,60,120,240,480")
        args.small_rates = parse_rates("100,300,600,1200,2400")
        args.stop_p99_ms = min(args.stop_p99_ms, 500.0)
    args.big_size = min(args.big_size or args.clients, args.clients)
    args.target_list = (
        [args.only] if args.only else [t.strip() for t in args.targets.split(",") if t.strip()]
    )
    if not set(args.target_list) <= {"bare", "parley", "ejabberd"}:
        p.error("--targets takes bare, parley and ejabberd")
    if any("=" not in item for item in args.server_env):
        p.error("--server-env takes NAME=VALUE")
    if "bench" not in args.db_name:
        p.error("--db-name must contain 'bench': the run drops that database")
    if args.servers < 1 or args.clients < 1 or args.client_procs < 1:
        p.error("--servers, --clients and --client-procs must be >= 1")
    return args


# --------------------------------------------------------------------------- processes


class Processes:
    """Server subprocesses, each in its own session so a whole group can be stopped."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out = (self.logdir / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        self.procs[name] = proc
        return proc

    def log_text(self, name: str) -> str:
        path = self.logdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = "\n".join(self.log_text(name).splitlines()[-40:])
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(8)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def cpu_seconds(self, prefix: str) -> float:
        """CPU seconds of the processes whose name starts with ``prefix``."""
        return sum(proc_cpu(p.pid) for n, p in self.procs.items() if n.startswith(prefix))


def proc_cpu(pid: int, *, children: bool = False) -> float:
    """utime + stime of one process in seconds (0 if it is gone), plus its reaped children's."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def cpu_by_command(names: tuple[str, ...]) -> float:
    """CPU seconds of every process whose command name is one of ``names`` (read only)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm in names:
            # PostgreSQL backends come and go (one per connection); their CPU survives in
            # the postmaster's reaped-children times, so those are counted too.
            total += proc_cpu(int(entry.name), children=True)
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, procs: Processes, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), 0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {HOST}:{port} after {timeout:.0f}s")


class WorkerPool:
    """Load-generator processes; client ``gidx`` lives in process ``gidx % size``."""

    def __init__(self, size: int, target: Callable = worker_main) -> None:
        ctx = mp.get_context("spawn")
        self.size = size
        self.conns = []
        self.procs = []
        for _ in range(size):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(target=target, args=(child_end,), daemon=True)
            proc.start()
            child_end.close()
            self.conns.append(parent_end)
            self.procs.append(proc)

    def call(self, cmd: tuple[Any, ...], per_worker: list[Any] | None = None) -> list[Any]:
        """Send a command to every worker (``per_worker`` appends one argument each)."""
        for i, conn in enumerate(self.conns):
            conn.send(cmd if per_worker is None else (*cmd, per_worker[i]))
        replies = []
        for i, conn in enumerate(self.conns):
            status, value = conn.recv()
            if status != "ok":
                raise RuntimeError(f"client process {i}: {value}")
            replies.append(value)
        return replies

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError, BrokenPipeError):
                conn.send(("exit",))
        for proc in self.procs:
            proc.join(3)
            if proc.is_alive():
                proc.terminate()
                proc.join(3)


# --------------------------------------------------------------------------- workloads


@dataclass
class Workload:
    """Conversations (id, member client indices) and the rates to step through."""

    name: str
    label: str
    convs: list[tuple[int, list[int]]]
    rates: list[float]


@dataclass
class StepResult:
    rate: float
    sent: int = 0
    expected: int = 0
    received: int = 0
    losses: int = 0
    dups: int = 0
    errors: int = 0
    acks: int = 0
    senders: int = 0
    skipped: int = 0
    p50: float = math.nan
    p95: float = math.nan
    p99: float = math.nan
    pmax: float = math.nan
    ack_p50: float = math.nan
    seconds: float = 1.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    redis_cpu: float = 0.0
    pg_cpu: float = 0.0
    pg_sessions: int | None = None
    error_samples: list[str] = field(default_factory=list)

    @property
    def deliveries_per_s(self) -> float:
        return self.received / self.seconds

    @property
    def loss_pct(self) -> float:
        return 100.0 * self.losses / self.expected if self.expected else 0.0


def percentile(sorted_values: array.array, q: float) -> float:
    """Nearest-rank percentile of an already sorted array."""
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


@dataclass
class Target:
    """A server under test: how to reach it and which conversation ids it uses."""

    name: str
    ports: list[int]
    specs: list[ConnectSpec]
    workloads: list[Workload]
    procs: Processes
    server_prefix: str
    acks: bool = True
    redis_cpu: Callable[[], float] = lambda: cpu_by_command(("redis-server",))
    # New PostgreSQL sessions on the bench database so far (Parley only).
    pg_sessions: Callable[[], int] | None = None
    acked_total: int = 0
    sent_total: int = 0
    results: dict[str, list[StepResult]] = field(default_factory=dict)
    db_counts: dict[str, Any] = field(default_factory=dict)
    # Connect specs[:first_wave] before the others (0: all at once).
    first_wave: int = 0
    key: str = ""
    servers: int = 1


class Runner:
    """Drives one target through its workloads."""

    def __init__(
        self, args: argparse.Namespace, target: Target, worker: Callable = worker_main
    ) -> None:
        self.args = args
        self.target = target
        self.pool = WorkerPool(args.client_procs, worker)
        self.connected: set[int] = set()
        self.step_id = 0

    def connect(self) -> None:
        t0 = time.monotonic()
        tag = uuid.uuid4().hex[:8]
        # Targets whose rooms are made by their first member (ejabberd) connect those first.
        waves = [self.target.specs[: self.target.first_wave], self.target.specs]
        for wave in waves if self.target.first_wave else waves[1:]:
            shards: list[list[Any]] = [[] for _ in range(self.pool.size)]
            for spec in wave:
                if spec[0] not in self.connected:
                    shards[spec[0] % self.pool.size].append(spec)
            replies = self.pool.call(
                ("connect",), [(s, self.args.connect_concurrency, tag) for s in shards]
            )
            self.connected = {g for r in replies for g in r["connected"]}
        failures = [f for r in replies for f in r["failures"]]
        self.connected = {g for r in replies for g in r["connected"]}
        log(
            f"  connected {len(self.connected)}/{len(self.target.specs)} clients over "
            f"{len(self.target.ports)} server process(es) in {time.monotonic() - t0:.1f}s "
            f"with {self.pool.size} client process(es)"
        )
        for gidx, why in failures[:5]:
            log(f"  connect failure, client {gidx}: {why}")
        if not self.connected:
            raise RuntimeError("no client could connect")

    def quiesce(self, max_seconds: float = 30.0, why: str = "") -> None:
        """Wait until no frames arrive for a second and every sent message is answered.

        After an overloaded step the server may still be working through a backlog; the
        next step (or closing the sockets) must not start before it is done.
        """
        t0 = time.monotonic()
        last, calm = -1, 0
        while time.monotonic() - t0 < max_seconds:
            probes = self.pool.call(("probe",))
            frames = sum(r["frames"] for r in probes)
            answered = sum(r["acks"] + r["errors"] for r in probes)
            pending = sum(r["sent"] for r in probes) - answered if self.target.acks else 0
            calm = calm + 1 if frames == last and pending <= 0 else 0
            if calm >= 2:
                waited = time.monotonic() - t0
                if waited > 5:
                    log(f"  drained {why} in {waited:.0f}s")
                return
            last = frames
            time.sleep(0.5)
        log(f"  still busy {why} after {max_seconds:.0f}s (pending answers: {pending})")

    def plan(self, wl: Workload, rate: float) -> tuple[list[list[SendItem]], dict[int, int], int]:
        """Schedule one step: per-worker send lists, message n -> conversation, sender count."""
        seconds = self.args.step_seconds
        per_conv = rate / len(wl.convs)
        items: list[tuple[float, int, int]] = []
        senders = 0
        rng = random.Random(self.step_id)
        for conv_id, members in wl.convs:
            live = [g for g in members if g in self.connected]
            if not live or per_conv <= 0:
                continue
            # Several distinct senders rotate, and enough of them that none exceeds the
            # server's per-socket rate limit.
            need = max(self.args.senders, math.ceil(per_conv / self.args.max_sender_rate))
            k = min(len(live), need)
            senders += k
            phase = rng.uniform(0, 1 / per_conv)
            i = 0
            while (t := phase + i / per_conv) < seconds:
                items.append((t, live[i % k], conv_id))
                i += 1
        items.sort()
        per_worker: list[list[SendItem]] = [[] for _ in range(self.pool.size)]
        conv_of: dict[int, int] = {}
        for n, (t, gidx, conv_id) in enumerate(items):
            per_worker[gidx % self.pool.size].append((t, gidx, conv_id, n))
            conv_of[n] = conv_id
        return per_worker, conv_of, senders

    def run_step(self, wl: Workload, rate: float, live_members: dict[int, int]) -> StepResult:
        self.step_id += 1
        step = self.step_id
        per_worker, conv_of, senders = self.plan(wl, rate)
        res = StepResult(rate=rate, seconds=self.args.step_seconds, senders=senders)
        procs = self.target.procs
        cpu0 = sum(r["cpu"] for r in self.pool.call(("probe",)))
        sessions0 = self.target.pg_sessions() if self.target.pg_sessions else None
        srv0, redis0, pg0 = (
            procs.cpu_seconds(self.target.server_prefix),
            self.target.redis_cpu(),
            cpu_by_command(("postgres",)),
        )
        start = time.time() + 0.2
        self.pool.call(("step", step, start), per_worker)
        time.sleep(max(0.0, start + self.args.step_seconds - time.time()))
        self.pool.call(("wait_sends",))
        # CPU is read over the send window only, so the idle grace doesn't dilute it.
        window = time.time() - start
        cpu1 = sum(r["cpu"] for r in self.pool.call(("probe",)))
        res.client_cpu = 100 * (cpu1 - cpu0) / window
        res.server_cpu = 100 * (procs.cpu_seconds(self.target.server_prefix) - srv0) / window
        res.redis_cpu = 100 * (self.target.redis_cpu() - redis0) / window
        res.pg_cpu = 100 * (cpu_by_command(("postgres",)) - pg0) / window
        time.sleep(self.args.grace)
        if self.target.pg_sessions and sessions0 is not None:
            res.pg_sessions = self.target.pg_sessions() - sessions0
        replies = self.pool.call(("collect", step))
        received: dict[int, int] = {}
        lat = array.array("d")
        ack_ms = array.array("d")
        for r in replies:
            for n, c in r["received"].items():
                received[n] = received.get(n, 0) + c
            lat.frombytes(r["latencies"])
            ack_ms.frombytes(r["ack_ms"])
            res.sent += len(r["sent"])
            res.skipped += r["skipped"]
            res.acks += r["acks"]
            res.errors += r["errors"]
            res.error_samples += r["error_samples"]
        # Per message: every live member of its conversation should have it exactly once.
        for n in (n for r in replies for n in r["sent"]):
            expected, got = live_members[conv_of[n]], received.get(n, 0)
            res.expected += expected
            res.losses += max(0, expected - got)
            res.dups += max(0, got - expected)
        res.received = len(lat)
        lat = array.array("d", sorted(lat))
        res.p50, res.p95, res.p99 = (percentile(lat, q) for q in (0.50, 0.95, 0.99))
        res.pmax = lat[-1] if lat else math.nan
        res.ack_p50 = percentile(array.array("d", sorted(ack_ms)), 0.5)
        return res

    def run_workload(self, wl: Workload) -> list[StepResult]:
        live_members = {cid: sum(g in self.connected for g in m) for cid, m in wl.convs}
        log(f"\n== {self.target.name}: {wl.label} ==")
        # Warm-up at the lowest rate so lazy imports, connection pools and JIT-free caches
        # (first queries, template of the frame) are not charged to the first measured step.
        warm = self.run_step(wl, min(wl.rates), live_members)
        log(
            f"  warm-up: {warm.sent} sent, {warm.acks} acks, {warm.errors} errors, "
            f"{warm.losses} losses"
        )
        for sample in warm.error_samples[:3]:
            log(f"    error frame: {sample}")
        self.quiesce(30, "after warm-up")
        log(header_line())
        results: list[StepResult] = []
        for rate in wl.rates:
            self.target.procs.check_alive()
            res = self.run_step(wl, rate, live_members)
            results.append(res)
            log(format_row(res))
            for sample in res.error_samples[:3]:
                log(f"    error frame: {sample}")
            if res.p99 > self.args.stop_p99_ms or res.loss_pct > self.args.stop_loss_pct:
                log(
                    f"  stop: p99 {res.p99:.0f} ms (limit {self.args.stop_p99_ms:.0f}), "
                    f"losses {res.loss_pct:.2f}% (limit {self.args.stop_loss_pct:g}%)"
                )
                break
            if res.received == 0:
                log("  stop: nothing delivered")
                break
            self.quiesce(30, "between steps")
        self.quiesce(120, "after the last step")
        return results

    def run(self) -> None:
        try:
            self.connect()
            self.quiesce(60, "after connecting")
            for wl in self.target.workloads:
                self.target.results[wl.name] = self.run_workload(wl)
            probes = self.pool.call(("probe",))
            self.target.sent_total = sum(r["sent"] for r in probes)
            self.target.acked_total = sum(r["acks"] for r in probes)
            report = self.pool.call(("report",))
            late = sum(r["late"] for r in report)
            disc = sum(r["disconnects"] for r in report)
            types: dict[str, int] = {}
            for r in report:
                for k, v in r["other_types"].items():
                    types[k] = types.get(k, 0) + v
            log(f"  late deliveries (after grace): {late}; client disconnects: {disc}")
            for sample in [s for r in report for s in r["disconnect_samples"]][:5]:
                log(f"    {sample}")
            if types:
                log("  other frames received: " + ", ".join(f"{k}={v}" for k, v in types.items()))
                samples: dict[str, str] = {}
                for r in report:
                    for k, v in r["other_samples"].items():
                        samples.setdefault(k, v)
                for k, v in samples.items():
                    log(f"    first {k}: {v}")
            for sample in [s for r in report for s in r["idle_errors"]][:5]:
                log(f"    error frame outside steps: {sample}")
            self.pool.call(("close",))
        finally:
            self.pool.close()


def header_line() -> str:
    return (
        f"  {'msg/s':>7} {'sent':>6} {'snd':>4} {'deliv/s':>9} {'p50ms':>7} {'p95ms':>7} "
        f"{'p99ms':>7} {'maxms':>7} {'losses':>7} {'dups':>5} {'errors':>6} {'acks':>6} "
        f"{'ack50':>6} {'srv%':>5} {'cli%':>5} {'redis%':>6} {'pg%':>5} {'pgconn':>6}"
    )


def format_row(r: StepResult) -> str:
    return (
        f"  {r.rate:7g} {r.sent:6d} {r.senders:4d} {r.deliveries_per_s:9.0f} {r.p50:7.1f} "
        f"{r.p95:7.1f} {r.p99:7.1f} {r.pmax:7.1f} {r.losses:7d} {r.dups:5d} {r.errors:6d} "
        f"{r.acks:6d} {r.ack_p50:6.1f} {r.server_cpu:5.0f} {r.client_cpu:5.0f} "
        f"{r.redis_cpu:6.0f} {r.pg_cpu:5.0f} {'-' if r.pg_sessions is None else r.pg_sessions:>6}"
    )


# --------------------------------------------------------------------------- targets


def membership(args: argparse.Namespace) -> tuple[list[int], list[list[int]]]:
    """Clients of the big room (the first --big-size) and of each small room (client i is in
    room i // size)."""
    everyone = list(range(args.clients))
    small = [everyone[i : i + args.room_size] for i in range(0, args.clients, args.room_size)]
    return everyone[: args.big_size], small


def workloads_for(args: argparse.Namespace, big_id: int, small_ids: list[int]) -> list[Workload]:
    everyone, small = membership(args)
    wls = []
    if args.rooms in ("big", "both"):
        wls.append(
            Workload("big", f"one room, {len(everyone)} members", [(big_id, everyone)], args.rates)
        )
    if args.rooms in ("small", "both"):
        label = f"{len(small)} rooms of {args.room_size} members"
        wls.append(
            Workload("small", label, list(zip(small_ids, small, strict=True)), args.small_rates)
        )
    return wls


def run_bare(args: argparse.Namespace, procs: Processes) -> Target:
    port = free_port()
    cmd = [str(VENV_BIN / "python"), str(ROOT / "bench" / "bare_broadcast.py"), "--port", str(port)]
    procs.start("bare", cmd, dict(os.environ))
    wait_for_port(port, procs)
    _, small = membership(args)
    big_id, small_ids = 1, [1000 + j for j in range(len(small))]
    room_of = {g: 1000 + j for j, members in enumerate(small) for g in members}
    big = set(membership(args)[0])
    specs: list[ConnectSpec] = [
        (g, HOST, port, f"/ws/?rooms={big_id if g in big else 0},{room_of[g]}", [])
        for g in range(args.clients)
    ]
    target = Target(
        "bare websockets",
        [port],
        specs,
        workloads_for(args, big_id, small_ids),
        procs,
        server_prefix="bare",
        acks=False,
        key="bare",
    )
    log(f"\n### bare websockets + uvloop broadcast server, 1 process, port {port}")
    try:
        Runner(args, target).run()
    finally:
        procs.stop("bare")
    return target


def parley_env(args: argparse.Namespace, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.db_name}",
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        # With a worker (the default) tasks go through Celery on the bench's Redis, as in a
        # scaled deployment; --eager-tasks runs them inside the server process instead.
        PARLEY_TASKS_EAGER="1" if args.eager_tasks else "0",
        # Settings default DEBUG to on outside production; DEBUG keeps every SQL query in
        # memory and is not how Parley is deployed, so the bench turns it off.
        DJANGO_DEBUG="0",
        PYTHONUNBUFFERED="1",
    )
    env.pop("CELERY_BROKER_URL", None)
    env.update(item.split("=", 1) for item in args.server_env)
    return env


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def pg_session_counter(db_name: str) -> Callable[[], int]:
    """Return a function reading how many sessions the bench database has had.

    Parley's default CONN_MAX_AGE is 0, so a session per database call is possible; this
    column shows it. pg_stat_database is refreshed about once a second, so it is approximate.
    """
    import psycopg

    conn = psycopg.connect(PG_ADMIN_URL, autocommit=True)

    def read() -> int:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (db_name,)
        ).fetchone()
        return int(row[0]) if row else 0

    return read


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def run_checked(cmd: list[str], env: dict[str, str], what: str) -> str:
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    log(f"  {what}: {time.monotonic() - t0:.1f}s")
    return proc.stdout


def start_redis(args: argparse.Namespace, procs: Processes) -> tuple[str, Callable[[], float]]:
    """Return the channel layer's Redis URL and a CPU reader for it."""
    if args.redis_url:
        flush_redis(args.redis_url)
        return args.redis_url, lambda: cpu_by_command(("redis-server",))
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    proc = procs.start("redis", cmd, dict(os.environ))
    wait_for_port(port, procs)
    return f"redis://{HOST}:{port}/0", lambda: proc_cpu(proc.pid)


def run_parley(args: argparse.Namespace, procs: Processes, workdir: Path) -> Target:
    redis_url, redis_cpu = start_redis(args, procs)
    env = parley_env(args, redis_url)
    extra = f", extra env {' '.join(args.server_env)}" if args.server_env else ""
    log(
        f"\n### Parley, {args.servers} uvicorn process(es), database {args.db_name}, "
        f"channel layer {redis_url}{extra}"
    )
    admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{args.db_name}"')
    py = str(VENV_BIN / "python")
    run_checked([py, "manage.py", "migrate", "--noinput"], env, "migrate")
    data_path = workdir / "parley_data.json"
    setup_cmd = [py, "-m", "bench.parley_data", "setup", "--clients", str(args.clients)]
    setup_cmd += ["--room-size", str(args.room_size), "--rooms", args.rooms]
    setup_cmd += ["--big-size", str(args.big_size)]
    setup_cmd += ["--out", str(data_path)]
    out = run_checked(setup_cmd, env, "data setup")
    for line in out.splitlines():
        log(f"    {line}")
    data = json.loads(data_path.read_text())
    ports = [free_port() for _ in range(args.servers)]
    for i, port in enumerate(ports):
        cmd = [str(VENV_BIN / "uvicorn"), "config.asgi:application", "--host", HOST]
        cmd += ["--port", str(port), "--ws", "websockets-sansio", "--ws-max-size", "1048576"]
        cmd += ["--no-access-log", "--log-level", "warning"]
        procs.start(f"parley{i}", cmd, env)
    if not args.eager_tasks:
        worker = [str(VENV_BIN / "celery"), "-A", "config", "worker", "--pool", "solo"]
        worker += ["--loglevel", "warning", "-n", "bench@%h", "--without-gossip"]
        worker += ["--without-mingle", "--without-heartbeat"]
        procs.start("worker", worker, env)
    for port in ports:
        wait_for_port(port, procs)
    specs: list[ConnectSpec] = [
        (g, HOST, ports[g % len(ports)], "/ws/", [("Authorization", f"Bearer {token}")])
        for g, token in enumerate(data["tokens"])
    ]
    target = Target(
        f"Parley x{args.servers}",
        ports,
        specs,
        workloads_for(args, data["big"], data["small"]),
        procs,
        server_prefix="parley",
        redis_cpu=redis_cpu,
        key="parley",
        servers=args.servers,
    )
    target.pg_sessions = pg_session_counter(args.db_name)
    try:
        Runner(args, target).run()
    finally:
        server_logs = {n: procs.log_text(n) for n in list(procs.procs) if n.startswith("parley")}
        for i in range(args.servers):
            procs.stop(f"parley{i}")
        report_server_logs(server_logs)
    verify_parley(target, env)
    if not args.eager_tasks:
        procs.stop("worker")
    procs.stop("redis")
    return target


EJABBERD_LIBS = Path("/usr/lib/x86_64-linux-gnu")
EJABBERD_CONFIG = """\
# Written by bench/fanout.py for one run: loopback only, no TLS, anonymous logins, rooms
# that keep no history and no archive (Parley's side of the comparison stores and archives
# every message; ejabberd stores nothing here).
hosts: ["localhost"]
loglevel: warning
log_rotate_count: 0
listen:
  - port: {port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    backlog: 1024
    max_stanza_size: 262144
    shaper: none
    access: all
auth_method: anonymous
anonymous_protocol: sasl_anon
allow_multiple_connections: true
shaper_rules:
  c2s_shaper: none
  max_user_sessions: 100000
modules:
  mod_disco: {{}}
  mod_muc:
    host: "conference.localhost"
    access: all
    access_create: all
    history_size: 0
    max_users: 5000
    max_users_presence: 10
    max_user_conferences: 100
    min_message_interval: 0
    min_presence_interval: 0
    default_room_options:
      max_users: 5000
      mam: false
      logging: false
      persistent: false
"""


def ejabberd_available() -> bool:
    return shutil.which("erl") is not None and any(EJABBERD_LIBS.glob("ejabberd-*/ebin"))


def run_ejabberd(args: argparse.Namespace, procs: Processes, workdir: Path) -> Target:
    """ejabberd's MUC, one Erlang node on loopback with a config of its own, started and
    stopped here; the load is the same schedule through bench/xmpp_load.py's clients."""
    port = free_port()
    home = workdir / "ejabberd"
    (home / "spool").mkdir(parents=True)
    config = home / "ejabberd.yml"
    config.write_text(EJABBERD_CONFIG.format(port=port))
    env = dict(os.environ)
    env.update(
        ERL_LIBS=str(EJABBERD_LIBS),
        EJABBERD_CONFIG_PATH=str(config),
        EJABBERD_LOG_PATH=str(home / "ejabberd.log"),
        ERL_CRASH_DUMP=str(home / "erl_crash.dump"),
        HOME=str(home),
    )
    # No node name: no Erlang distribution listener, so the c2s port on 127.0.0.1 is the
    # only socket the node opens.
    cmd = ["erl", "-noinput", "+P", "250000", "-mnesia", "dir", f'"{home / "spool"}"']
    cmd += ["-s", "ejabberd"]
    procs.start("ejabberd", cmd, env)
    wait_for_port(port, procs)
    everyone, small = membership(args)
    big_id, small_ids = 1, [1000 + j for j in range(len(small))]
    room_of = {g: 1000 + j for j, members in enumerate(small) for g in members}
    big = set(everyone)
    creators = {everyone[0]: [big_id]} if everyone else {}
    for j, members in enumerate(small):
        creators.setdefault(members[0], []).append(1000 + j)
    specs = []
    for g in sorted(creators) + [g for g in range(args.clients) if g not in creators]:
        rooms = ([big_id] if g in big else []) + [room_of[g]]
        specs.append(
            (g, HOST, port, [f"r{r}" for r in rooms], [f"r{r}" for r in creators.get(g, [])])
        )
    target = Target(
        "ejabberd MUC",
        [port],
        specs,  # type: ignore[arg-type]
        workloads_for(args, big_id, small_ids),
        procs,
        server_prefix="ejabberd",
        acks=False,
        first_wave=len(creators),
        key="ejabberd",
    )
    log(f"\n### ejabberd (MUC), 1 Erlang node, port {port}")
    try:
        Runner(args, target, xmpp_worker_main).run()
    finally:
        procs.stop("ejabberd")
    return target


def report_server_logs(logs: dict[str, str]) -> None:
    """Show what the servers logged (warnings and tracebacks are server problems)."""
    for name, text in logs.items():
        lines = [ln for ln in text.splitlines() if ln.strip()]
        tracebacks = text.count("Traceback (most recent call last)")
        log(f"  {name} log: {len(lines)} lines, {tracebacks} tracebacks")
        if lines:
            first = text.find("Traceback (most recent call last)")
            excerpt = text[max(0, first - 400) :] if first >= 0 else text
            for ln in excerpt.splitlines()[:60]:
                log(f"    | {ln}")


def verify_parley(target: Target, env: dict[str, str]) -> None:
    """Compare stored and archived messages with what the server acknowledged."""
    py = str(VENV_BIN / "python")
    deadline = time.monotonic() + 20
    counts: dict[str, int] = {}
    while True:
        out = run_checked([py, "-m", "bench.parley_data", "verify"], env, "database check")
        counts = json.loads(out.strip().splitlines()[-1])
        # Archiving may lag behind the ack (a task); give it a moment to catch up.
        if counts["archived"] >= target.acked_total or time.monotonic() > deadline:
            break
        time.sleep(2)
    ok_stored = counts["messages"] == target.acked_total
    ok_archived = counts["archived"] == target.acked_total
    log(
        f"  sent {target.sent_total}, acked {target.acked_total}, stored messages "
        f"{counts['messages']} ({'ok' if ok_stored else 'MISMATCH'}), archived "
        f"'{counts['event']}' records {counts['archived']} ({'ok' if ok_archived else 'MISMATCH'})"
    )
    target.db_counts = counts


# --------------------------------------------------------------------------- summary


def best_step(results: list[StepResult], good_p99: float) -> StepResult | None:
    good = [r for r in results if r.p99 <= good_p99 and r.losses == 0 and r.received]
    return max(good, key=lambda r: r.deliveries_per_s, default=None)


def summarize(args: argparse.Namespace, targets: list[Target]) -> None:
    log("\n### Summary")
    log(
        f"  {args.clients} clients, {args.client_procs} client process(es), "
        f"{args.step_seconds:g}s steps + {args.grace:g}s grace, 100-byte bodies, "
        f"{os.cpu_count()} CPU cores shared by servers, Redis, PostgreSQL and clients"
    )
    bare = next((t for t in targets if t.key == "bare"), None)
    for wl in ("big", "small"):
        for target in targets:
            if wl not in target.results:
                continue
            results = target.results[wl]
            best = best_step(results, args.good_p99_ms)
            saturated = bool(results) and best is not results[-1]
            if best is None:
                log(f"  {wl}: {target.name}: no step with p99 <= {args.good_p99_ms:g} ms")
                continue
            more = "" if saturated else " (highest step offered; not saturated)"
            log(
                f"  {wl}: {target.name}: best {best.deliveries_per_s:,.0f} deliveries/s "
                f"at {best.rate:g} msg/s, p99 {best.p99:.1f} ms{more}"
            )
        for target in targets:
            ratio = delivery_ratio(args, target, bare, wl)
            if ratio is not None and target is not bare:
                log(
                    f"  {wl}: {target.name}/bare deliveries at p99 <= {args.good_p99_ms:g} ms: "
                    f"{ratio:.3g}"
                )
        parley = next((t for t in targets if t.key == "parley"), None)
        ejabberd = next((t for t in targets if t.key == "ejabberd"), None)
        ratio = delivery_ratio(args, parley, ejabberd, wl)
        if ratio is not None:
            log(
                f"  {wl}: Parley/ejabberd deliveries at p99 <= {args.good_p99_ms:g} ms: {ratio:.3g}"
            )


def delivery_ratio(
    args: argparse.Namespace, target: Target | None, reference: Target | None, wl: str
) -> float | None:
    """Best deliveries/s within the p99 bound of target over reference's, if both have one."""
    if target is None or reference is None or target is reference:
        return None
    best = best_step(target.results.get(wl, []), args.good_p99_ms)
    ref = best_step(reference.results.get(wl, []), args.good_p99_ms)
    if best is None or ref is None or not ref.deliveries_per_s:
        return None
    return round(best.deliveries_per_s / ref.deliveries_per_s, 4)


def json_summary(args: argparse.Namespace, targets: list[Target]) -> dict[str, Any]:
    """The run as one JSON object (the bench's last line)."""
    everyone, small = membership(args)
    shape = {"big": (1, len(everyone)), "small": (len(small), args.room_size)}
    bare = next((t for t in targets if t.key == "bare"), None)
    ejabberd = next((t for t in targets if t.key == "ejabberd"), None)
    cases = []
    for target in targets:
        for wl, results in target.results.items():
            best = best_step(results, args.good_p99_ms)
            cases.append(
                {
                    "target": target.key,
                    "servers": target.servers,
                    "workload": wl,
                    "rooms": shape[wl][0],
                    "members": shape[wl][1],
                    "best_deliveries_per_s": round(best.deliveries_per_s) if best else None,
                    "best_msg_per_s": best.rate if best else None,
                    "best_p99_ms": round(best.p99, 1) if best else None,
                    "vs_bare": delivery_ratio(args, target, bare, wl),
                    "vs_ejabberd": delivery_ratio(args, target, ejabberd, wl),
                    "steps": [
                        {
                            "msg_per_s": r.rate,
                            "deliveries_per_s": round(r.deliveries_per_s),
                            "p50_ms": round(r.p50, 1),
                            "p99_ms": round(r.p99, 1),
                            "losses": r.losses,
                            "errors": r.errors,
                        }
                        for r in results
                    ],
                }
            )
    parley = next((t for t in targets if t.key == "parley"), None)
    stored = None
    if parley is not None and parley.db_counts:
        stored = {
            "acked": parley.acked_total,
            "stored": parley.db_counts.get("messages"),
            "archived": parley.db_counts.get("archived"),
        }
    return {
        "bench": "fanout",
        "clients": args.clients,
        "good_p99_ms": args.good_p99_ms,
        "cases": cases,
        "parley_stored": stored,
    }


def install_signal_handlers() -> None:
    """Turn SIGINT/SIGTERM/SIGHUP into KeyboardInterrupt so the cleanup in ``finally`` runs."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # Set SIGINT explicitly: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_signal_handlers()
    workdir = Path(tempfile.mkdtemp(prefix="parley-bench-"))
    procs = Processes(workdir)
    t0 = time.monotonic()
    db_created = False
    log(LEGEND)
    try:
        targets: list[Target] = []
        for name in args.target_list:
            if name == "bare":
                bare = run_bare(args, procs)
                targets.append(bare)
            elif name == "parley":
                db_created = True
                parley = run_parley(args, procs, workdir)
                targets.append(parley)
            elif ejabberd_available():
                targets.append(run_ejabberd(args, procs, workdir))
            else:
                log("\n### ejabberd: not installed (apt-get install ejabberd); skipped")
        summarize(args, targets)
        log(json.dumps(json_summary(args, targets)))
    except KeyboardInterrupt:
        log("\ninterrupted; cleaning up")
        return 130
    except RuntimeError as exc:
        log(f"\nERROR: {exc}")
        return 1
    finally:
        procs.stop_all()
        if db_created:
            with contextlib.suppress(Exception):
                admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
            if args.redis_url:
                with contextlib.suppress(Exception):
                    flush_redis(args.redis_url)
        if args.keep_logs:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        log(f"total time {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
