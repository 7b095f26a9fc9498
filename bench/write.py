"""Write-path benchmark: how many stored-and-archived posts per second Parley acknowledges.

C clients (default 50), each sending `message.send` and waiting for its `message.ack` before
the next (a closed loop), first in C direct conversations (one each, with a partner who is
not connected), then all in one group conversation; on S server processes (1, then 2); on
PostgreSQL and on SQLite. Per case: acks/s, ack latency p50/p99, SQL statements per post, and
a database check that every acked message is stored and archived exactly once (lost,
duplicated) with seq numbers without gaps. The last line is one JSON object.

Run from the repository root (PostgreSQL on 127.0.0.1:5432 as `postgres`, redis-server on the
PATH); it starts and stops its own servers, a private Redis and a Celery worker, uses the
database `bench_write` (dropped at the end) and a temporary SQLite file::

    .venv/bin/python bench/write.py --quick          # 10-second steps, about 5 minutes
    .venv/bin/python bench/write.py --databases sqlite --servers 1 --quick
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

if not __package__:
    # Run as a script (python bench/write.py): make the repository root importable.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fanout import (
    HOST,
    VENV_BIN,
    Processes,
    admin_sql,
    free_port,
    log,
    percentile,
    proc_cpu,
    run_checked,
    wait_for_port,
)
from bench.loadgen import OP_TEXT, TYPE_RE, WsClient

ACK, ERROR = b"message.ack", b"error"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50, help="clients, each waiting for its ack")
    p.add_argument("--servers", default="1,2", help="server process counts to run (1,2)")
    p.add_argument("--databases", default="postgresql,sqlite", help="postgresql,sqlite")
    p.add_argument("--workloads", default="direct,group", help="direct,group")
    p.add_argument("--step-seconds", type=float, default=30.0, help="measured seconds per case")
    p.add_argument("--warmup-seconds", type=float, default=3.0)
    p.add_argument("--quick", action="store_true", help="10-second steps, 2-second warm-up")
    p.add_argument("--db-name", default="bench_write", help="PostgreSQL database (dropped)")
    p.add_argument("--ack-timeout", type=float, default=30.0)
    p.add_argument("--keep-logs", action="store_true")
    p.add_argument(
        "--profile",
        action="store_true",
        help="sample server 0 with py-spy during each step (collapsed stacks kept with the logs)",
    )
    p.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the servers (repeatable)",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.step_seconds, args.warmup_seconds = 10.0, 2.0
    args.keep_logs = args.keep_logs or args.profile
    args.servers = [int(s) for s in args.servers.split(",") if s]
    args.databases = [d for d in args.databases.split(",") if d]
    args.workloads = [w for w in args.workloads.split(",") if w]
    return args


# --------------------------------------------------------------------------- clients


class AckClient:
    """One connection's frame handler: resolves the pending send when its ack or error comes."""

    def __init__(self, acked: dict[str, int]) -> None:
        self.acked = acked
        self.pending: dict[str, asyncio.Future] = {}
        self.errors: dict[str, int] = {}
        self.disconnects = 0  # WsClient reports closed connections here
        self.disconnect_samples: list[str] = []

    def on_text(self, payload: bytes, now_ns: int) -> None:
        m = TYPE_RE.search(payload)
        kind = m.group(1) if m else b""
        if kind != ACK and kind != ERROR:
            return  # message.new and the rest: the bench measures acks
        frame = json.loads(payload)
        if kind == ACK and isinstance(frame.get("client_id"), str):
            self.acked[frame["client_id"]] = frame["id"]  # late acks count for the check too
        future = self.pending.pop(str(frame.get("ref")), None)
        if future is not None and not future.done():
            future.set_result((kind, frame, now_ns))


@dataclass
class CaseResult:
    database: str
    servers: int
    workload: str
    acks: int = 0
    seconds: float = 0.0
    ack_ms: array.array = field(default_factory=lambda: array.array("d"))
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    timeouts: int = 0
    overloaded: int = 0
    server_cpu: float = 0.0
    db_cpu: float | None = None
    check: dict = field(default_factory=dict)
    statements_per_post: float | None = None

    def row(self) -> dict:
        ordered = array.array("d", sorted(self.ack_ms))
        return {
            "database": self.database,
            "servers": self.servers,
            "workload": self.workload,
            "acks_per_s": round(self.acks / self.seconds, 1) if self.seconds else 0.0,
            "ack_p50_ms": round(percentile(ordered, 0.50), 1) if ordered else None,
            "ack_p99_ms": round(percentile(ordered, 0.99), 1) if ordered else None,
            "statements_per_post": self.statements_per_post,
            "lost": self.check.get("lost"),
            "duplicated": self.check.get("duplicated"),
            "seq_gaps": self.check.get("seq_gaps"),
            "errors": dict(self.errors),
            "overloaded": self.overloaded,
            "timeouts": self.timeouts,
            "server_cpu_percent": round(100 * self.server_cpu / self.seconds, 0)
            if self.seconds
            else 0,
            # CPU per acked post: steadier than acks/s on a machine others are loading.
            "server_cpu_ms_per_post": round(1000 * self.server_cpu / self.acks, 2)
            if self.acks
            else None,
            "db_cpu_ms_per_post": round(1000 * self.db_cpu / self.acks, 2)
            if self.acks and self.db_cpu is not None
            else None,
        }


async def connect_all(ports: list[int], tokens: list[str], acked: dict[str, int]):
    loop = asyncio.get_running_loop()
    pairs = []
    for g, token in enumerate(tokens):
        handler = AckClient(acked)
        port = ports[g % len(ports)]
        _, client = await loop.create_connection(lambda h=handler, g=g: WsClient(h, g), HOST, port)
        client.start(HOST, port, "/ws/", [("Authorization", f"Bearer {token}")])
        problem = await asyncio.wait_for(client.handshake, 60)
        if problem:
            raise RuntimeError(f"client {g} could not connect: {problem}")
        pairs.append((client, handler))
    return pairs


async def run_case(
    args: argparse.Namespace,
    pairs: list,
    conversations: list[int],
    tag: str,
    result: CaseResult,
    cpu_now,
    db_cpu_now,
) -> None:
    """Every client posts in a closed loop until the step ends; acks in the window count."""
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    measure_from = start + args.warmup_seconds
    stop_at = measure_from + args.step_seconds
    cpu_state: dict[str, float] = {}

    async def mark_window() -> None:
        await asyncio.sleep(args.warmup_seconds)
        cpu_state["start"], cpu_state["db"] = cpu_now(), db_cpu_now()

    async def one(g: int, client: WsClient, handler: AckClient, conversation: int) -> None:
        n = 0
        client_id = ""
        while time.monotonic() < stop_at:
            if not client_id:
                n += 1
                client_id = f"{tag}-{g}-{n}"
            head = f"{tag} {g} {n} "
            body = head + "x" * max(0, 100 - len(head))
            ref = f"{g}.{n}"
            frame = {
                "type": "message.send",
                "conversation": conversation,
                "body": body,
                "client_id": client_id,
                "ref": ref,
            }
            future = loop.create_future()
            handler.pending[ref] = future
            sent = time.monotonic()
            client.write(OP_TEXT, json.dumps(frame, separators=(",", ":")).encode())
            try:
                kind, reply, _ = await asyncio.wait_for(future, args.ack_timeout)
            except TimeoutError:
                handler.pending.pop(ref, None)
                result.timeouts += 1
                client_id = ""
                continue
            done = time.monotonic()
            if kind == ACK:
                client_id = ""
                if measure_from <= sent and done <= stop_at:
                    result.acks += 1
                    result.ack_ms.append((done - sent) * 1000)
                continue
            code = str(reply.get("code"))
            if code == "overloaded":
                # Degrade, not collapse: wait as told and send the same message again.
                result.overloaded += 1
                await asyncio.sleep(int(reply.get("retry_after_ms") or 100) / 1000)
                continue
            result.errors[code] = result.errors.get(code, 0) + 1
            if len(result.error_samples) < 3:
                result.error_samples.append(json.dumps(reply)[:300])
            client_id = ""

    marker = asyncio.create_task(mark_window())
    await asyncio.gather(
        *(one(g, client, handler, conversations[g]) for g, (client, handler) in enumerate(pairs))
    )
    await marker
    result.seconds = args.step_seconds
    result.server_cpu = cpu_now() - cpu_state.get("start", 0.0)
    if cpu_state.get("db") is not None:
        result.db_cpu = db_cpu_now() - cpu_state["db"]


# --------------------------------------------------------------------------- servers


def server_env(args: argparse.Namespace, database: str, datadir: Path, redis_url: str) -> dict:
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PARLEY_TASKS_EAGER"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",  # DEBUG keeps every query in memory; not how Parley is deployed
        PYTHONUNBUFFERED="1",
        PARLEY_DATA_DIR=str(datadir),
        PARLEY_MEDIA_ROOT=str(datadir / "media"),
    )
    if database == "postgresql":
        env["DATABASE_URL"] = f"postgres://postgres@{HOST}:5432/{args.db_name}"
        env["PARLEY_TASKS_EAGER"] = "0"  # a Celery worker does the indexing, as when scaled
    else:
        env["PARLEY_TASKS_EAGER"] = "1"  # the embedded default: tasks in the server process
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(item.split("=", 1) for item in args.server_env)
    return env


def start_servers(args, procs: Processes, env: dict, count: int, database: str) -> list[int]:
    ports = [free_port() for _ in range(count)]
    for i, port in enumerate(ports):
        cmd = [str(VENV_BIN / "uvicorn"), "config.asgi:application", "--host", HOST]
        cmd += ["--port", str(port), "--ws", "websockets-sansio", "--ws-max-size", "1048576"]
        cmd += ["--no-access-log", "--log-level", "warning"]
        procs.start(f"parley{i}", cmd, env)
    if database == "postgresql":
        worker = [str(VENV_BIN / "celery"), "-A", "config", "worker", "--pool", "solo"]
        worker += ["--loglevel", "warning", "-n", "benchwrite@%h", "--without-gossip"]
        worker += ["--without-mingle", "--without-heartbeat"]
        procs.start("worker", worker, env)
    for port in ports:
        wait_for_port(port, procs)
    return ports


def stop_servers(procs: Processes, count: int) -> None:
    for i in range(count):
        text = procs.log_text(f"parley{i}")
        tracebacks = text.count("Traceback (most recent call last)")
        if tracebacks:
            first = text.find("Traceback (most recent call last)")
            log(f"  parley{i}: {tracebacks} tracebacks; first:")
            for line in text[first:].splitlines()[:30]:
                log(f"    | {line}")
        procs.stop(f"parley{i}")
    procs.stop("worker")


def pg_backends(db_name: str) -> list[int]:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@{HOST}:5432/postgres", autocommit=True) as c:
        rows = c.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db_name,),
        ).fetchall()
    return [row[0] for row in rows]


def start_redis(procs: Processes) -> str:
    # Private: Redis pub/sub ignores database numbers, so a shared server would mix in other
    # Parley instances' events.
    port = free_port()
    cmd = ["redis-server", "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    procs.start("redis", cmd, dict(os.environ))
    wait_for_port(port, procs)
    return f"redis://{HOST}:{port}/0"


# --------------------------------------------------------------------------- main


def run_database(args, procs: Processes, workdir: Path, database: str) -> list[CaseResult]:
    py = str(VENV_BIN / "python")
    datadir = workdir / database
    datadir.mkdir()
    redis_url = start_redis(procs)
    results: list[CaseResult] = []
    base_env = server_env(args, database, datadir, "")
    if database == "postgresql":
        admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
        admin_sql(f'CREATE DATABASE "{args.db_name}"')
    try:
        log(f"\n### {database}: migrate and set up {args.clients} clients")
        run_checked([py, "manage.py", "migrate", "--noinput"], base_env, "migrate")
        data_path = workdir / f"{database}.json"
        out = run_checked(
            [
                py,
                "-m",
                "bench.write_data",
                "setup",
                "--clients",
                str(args.clients),
                "--out",
                str(data_path),
            ],
            base_env,
            "setup",
        )
        log(f"    {out.strip()}")
        data = json.loads(data_path.read_text())
        for servers in args.servers:
            # SQLite on one process is the embedded default (in-memory channel layer); several
            # processes need Redis to reach each other's sockets.
            shared = database == "postgresql" or servers > 1
            env = server_env(args, database, datadir, redis_url if shared else "")
            ports = start_servers(args, procs, env, servers, database)
            pids = [procs.procs[f"parley{i}"].pid for i in range(servers)]

            def cpu_now(pids=pids) -> float:
                return sum(proc_cpu(pid) for pid in pids)

            def db_cpu_now(database=database) -> float | None:
                # The bench database's PostgreSQL backends (pooled, so they live on).
                if database != "postgresql":
                    return None
                return sum(proc_cpu(pid) for pid in pg_backends(args.db_name))

            try:
                for workload in args.workloads:
                    conversations = (
                        data["direct"] if workload == "direct" else [data["group"]] * args.clients
                    )
                    result = CaseResult(database, servers, workload)
                    tag = f"w{uuid.uuid4().hex[:8]}"
                    acked: dict[str, int] = {}
                    log(f"  {database} x{servers} {workload}: {args.step_seconds:.0f}s ...")
                    spy: list = []

                    def spy_start(
                        database=database, servers=servers, workload=workload, pids=pids, spy=spy
                    ):
                        if not args.profile:
                            return
                        out_path = workdir / f"profile-{database}-{servers}-{workload}.txt"
                        cmd = [str(VENV_BIN / "py-spy"), "record", "--pid", str(pids[0])]
                        cmd += ["--format", "raw", "--rate", "200", "--nonblocking", "-o"]
                        cmd += [str(out_path), "--duration"]
                        cmd += [str(int(args.warmup_seconds + args.step_seconds))]
                        spy.append(
                            (procs.start(f"spy-{workload}", cmd, dict(os.environ)), out_path)
                        )

                    async def go(
                        result=result,
                        conversations=conversations,
                        tag=tag,
                        acked=acked,
                        ports=ports,
                    ) -> None:
                        pairs = await connect_all(ports, data["tokens"], acked)
                        spy_start()  # after connecting: the profile shows posting only
                        try:
                            await run_case(
                                args, pairs, conversations, tag, result, cpu_now, db_cpu_now
                            )
                        finally:
                            for client, _ in pairs:
                                client.transport_close()

                    asyncio.run(go())
                    for spy_proc, spy_path in spy:
                        spy_proc.wait(30)
                        procs.stop(f"spy-{workload}")  # done: not a server to watch
                        log(f"    profile: {spy_path}")
                    acked_path = workdir / f"acked-{tag}.json"
                    acked_path.write_text(json.dumps(acked))
                    out = run_checked(
                        [
                            py,
                            "-m",
                            "bench.write_data",
                            "verify",
                            "--acked",
                            str(acked_path),
                            "--tag",
                            tag,
                        ],
                        env,
                        "check",
                    )
                    result.check = json.loads(out.strip().splitlines()[-1])
                    results.append(result)
                    r = result.row()
                    log(
                        f"    {r['acks_per_s']:.0f} acks/s, p50 {r['ack_p50_ms']} ms, "
                        f"p99 {r['ack_p99_ms']} ms, server cpu {r['server_cpu_percent']}% "
                        f"({r['server_cpu_ms_per_post']} ms/post, database "
                        f"{r['db_cpu_ms_per_post']} ms/post), "
                        f"errors {r['errors']} overloaded {r['overloaded']} timeouts "
                        f"{r['timeouts']}; check {result.check}"
                    )
                    for sample in result.error_samples:
                        log(f"    error sample: {sample}")
            finally:
                stop_servers(procs, servers)
        # Tasks queued, not run: the count is the write path's own (SQLite's embedded default
        # also runs the indexing after each commit in the server process).
        out = run_checked(
            [py, "-m", "bench.write_data", "statements", "--data", str(data_path)],
            {**base_env, "PARLEY_TASKS_EAGER": "0"},
            "statements",
        )
        per_post = json.loads(out.strip().splitlines()[-1])
        log(f"    statements: {per_post}")
        for result in results:
            result.statements_per_post = per_post[result.workload]["per_post"]
    finally:
        procs.stop("redis")
        if database == "postgresql":
            with contextlib.suppress(Exception):
                admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-write-"))
    procs = Processes(workdir)

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    results: list[CaseResult] = []
    try:
        for database in args.databases:
            results += run_database(args, procs, workdir, database)
    finally:
        procs.stop_all()
        if args.keep_logs:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = [r.row() for r in results]
    log(
        "\n| database | servers | workload | acks/s | p50 ms | p99 ms | stmts/post "
        "| server cpu ms/post | db cpu ms/post | lost | dup |"
    )
    log("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        log(
            f"| {r['database']} | {r['servers']} | {r['workload']} | {r['acks_per_s']:.0f} | "
            f"{r['ack_p50_ms']} | {r['ack_p99_ms']} | {r['statements_per_post']} | "
            f"{r['server_cpu_ms_per_post']} | {r['db_cpu_ms_per_post']} | "
            f"{r['lost']} | {r['duplicated']} |"
        )
    print(json.dumps({"bench": "write", "cases": rows}), flush=True)
    return 0 if all(r["lost"] == 0 and r["duplicated"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
