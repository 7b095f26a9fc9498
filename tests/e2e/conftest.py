"""Real parts for the end-to-end tests: two uvicorn processes and a Celery worker.

They share the test session's PostgreSQL database, Redis (the channel layer) and RabbitMQ (the
Celery broker), exactly as a scaled deployment does. Each cluster has a channel prefix and a
task queue of its own, so runs sharing the services keep apart. Tests that use them must be
`@pytest.mark.django_db(transaction=True)`: the servers only see committed rows.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from websockets.sync.client import ClientConnection, connect

from directory import services as directory
from directory.models import Person
from tests.conftest import free_port, postgres_or_skip, service_url_or_skip

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
FRAME_TIMEOUT = 10.0


# -- processes ------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, closing no socket and deleting no row."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=STOP_TIMEOUT)


@dataclass
class Server(Process):
    port: int = 0

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"


def _database_url() -> str:
    """Return a URL for the test database pytest-django created (not the configured one)."""
    db = settings.DATABASES["default"]
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(db['NAME'], safe='')}"


def _environment(
    *,
    database_url: str,
    redis_url: str,
    broker_url: str,
    task_queue: str,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"CELERY_BROKER_URL", "DJANGO_PRODUCTION", "PARLEY_TASKS_EAGER"}
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=broker_url,
        PARLEY_TASK_QUEUE=task_queue,
        # pub/sub ignores Redis database numbers: a prefix of its own keeps this run apart
        PARLEY_CHANNEL_PREFIX=f"parley-e2e-{os.getpid()}",
        PARLEY_TASKS_EAGER="0",
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def celery_worker_argv(node: str, *, pool: str = "solo", concurrency: int = 1) -> list[str]:
    """Return the command of one Celery worker named node (quiet, no gossip); solo unless a
    test needs the pool a deployment runs (prefork)."""
    return [
        str(VENV_BIN / "celery"),
        "-A",
        "config",
        "worker",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "warning",
        "--hostname",
        node,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def _spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> tuple:
    log_path = log_dir / f"{name}.log"
    log = log_path.open("wb")
    try:
        popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    finally:
        log.close()  # the child holds its own descriptor
    return popen, log_path


def _port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _wait_until(process: Process, ready, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            pytest.fail(
                f"{process.name} exited with {process.popen.returncode} before {what}.\n"
                f"--- {process.log_path} ---\n{process.log_tail()}"
            )
        if ready():
            return
        time.sleep(0.1)
    pytest.fail(
        f"{process.name} did not {what} within {START_TIMEOUT:.0f} s.\n"
        f"--- {process.log_path} ---\n{process.log_tail()}"
    )


def _server_start(name: str, env: dict[str, str], log_dir: Path) -> Server:
    port = free_port()
    args = [
        str(VENV_BIN / "uvicorn"),
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ws",
        "websockets-sansio",
        "--lifespan",
        "off",
        "--timeout-graceful-shutdown",
        "3",
    ]
    popen, log_path = _spawn(name, args, env, log_dir)
    return Server(name=name, popen=popen, log_path=log_path, port=port)


def broker_url_or_skip() -> str:
    """Return the RabbitMQ URL the end-to-end clusters use as their Celery broker."""
    return service_url_or_skip("PARLEY_TEST_AMQP_URL", "RabbitMQ")


def _worker_ping(broker_url: str, node: str) -> bool:
    from celery import Celery

    # A client app of its own: the project's app reads its broker from this process's
    # settings, which the unit tests keep on in-process tasks.
    client = Celery("e2e-probe", broker=broker_url, set_as_current=False)
    try:
        return bool(client.control.ping(destination=[node], timeout=0.5))
    except Exception:
        return False
    finally:
        client.close()


@dataclass
class Cluster:
    servers: list[Server]
    worker: Process | None
    redis_url: str
    broker_url: str = ""
    task_queue: str = "celery"
    processes: list[Process] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    worker_nodes: dict[str, Process] = field(default_factory=dict)

    @property
    def a(self) -> Server:
        return self.servers[0]

    def server_start(self, name: str, **extra_env: str) -> Server:
        """Start one more server (stopped with the others), with extra environment."""
        assert self.log_dir is not None
        server = _server_start(name, {**self.env, **extra_env}, self.log_dir)
        self.processes.append(server)
        self.servers.append(server)
        _wait_until(server, lambda: _port_answers(server.port), f"answer on port {server.port}")
        return server

    def worker_start(self, name: str, *, pool: str = "solo", concurrency: int = 1) -> Process:
        """Start one more Celery worker on the cluster's queue and wait for its ping."""
        assert self.log_dir is not None
        node = f"{name}-{uuid.uuid4().hex[:8]}@127.0.0.1"
        argv = celery_worker_argv(node, pool=pool, concurrency=concurrency)
        popen, log_path = _spawn(name, argv, self.env, self.log_dir)
        worker = Process(name=name, popen=popen, log_path=log_path)
        self.processes.append(worker)
        self.worker_nodes[node] = worker
        _wait_until(worker, lambda: _worker_ping(self.broker_url, node), "answer a Celery ping")
        return worker

    def task_send(self, task: str, *, args: list | None = None) -> None:
        """Queue a task by name on the cluster's queue, as a web process or beat would."""
        from celery import Celery

        client = Celery("e2e-client", broker=self.broker_url, set_as_current=False)
        try:
            client.send_task(task, args=args or [], queue=self.task_queue)
        finally:
            client.close()

    @property
    def b(self) -> Server:
        return self.servers[1]

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ({p.log_path}) ---\n{p.log_tail()}" for p in self.processes)

    def _queue_ready(self) -> int:
        """Return how many tasks wait in the queue (RabbitMQ counts unacked ones apart)."""
        from amqp.exceptions import ChannelError
        from kombu import Connection
        from kombu.exceptions import OperationalError

        try:
            with Connection(self.broker_url, connect_timeout=2) as connection:
                channel = connection.channel()
                try:
                    _, ready, _ = channel.queue_declare(self.task_queue, passive=True)
                finally:
                    channel.close()
        except OperationalError:
            return 1  # the broker does not answer: nothing can be said to be idle
        except ChannelError:  # 404: a queue no worker has declared (yet) holds nothing
            return 0
        return ready

    def _workers_idle(self) -> bool:
        """Whether every living worker answers, running and holding no task.

        A solo worker answers control messages only between tasks, so a busy one is silent.
        """
        from celery import Celery

        nodes = [node for node, worker in self.worker_nodes.items() if worker.popen.poll() is None]
        if not nodes:
            return True
        client = Celery("e2e-probe", broker=self.broker_url, set_as_current=False)
        try:
            inspect = client.control.inspect(destination=nodes, timeout=0.5)
            for answer in (inspect.active(), inspect.reserved()):
                if not answer or set(answer) != set(nodes) or any(answer.values()):
                    return False
        finally:
            client.close()
        return True

    def wait_until_worker_idle(self, timeout: float = 15.0) -> None:
        """Wait until the workers have finished every queued task.

        Called before the test's flush: a task still running would hold table locks that
        the flush's TRUNCATE also wants, in another order, and PostgreSQL would abort one
        of them as a deadlock. Tasks are acked late, so a task being run (or prefetched)
        is not in the queue's ready count; the workers themselves say what they hold.
        """
        deadline = time.monotonic() + timeout
        quiet_checks = 0
        while quiet_checks < 3:  # consecutive checks: a task moves from queue to a worker
            if time.monotonic() > deadline:
                pytest.fail(f"the Celery worker was still busy after {timeout} s\n{self.logs()}")
            is_quiet = self._queue_ready() == 0 and self._workers_idle()
            quiet_checks = quiet_checks + 1 if is_quiet else 0
            time.sleep(0.05)

    def queue_delete(self) -> None:
        """Remove the cluster's task queue from the broker (it is durable)."""
        from kombu import Connection

        # Best effort: a stopped private broker takes its queues along.
        with contextlib.suppress(Exception), Connection(self.broker_url, connect_timeout=2) as conn:
            channel = conn.channel()
            channel.queue_delete(self.task_queue)
            channel.close()


@contextmanager
def cluster_running(
    log_dir: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    with_worker: bool = True,
    server_names: tuple[str, ...] = ("server-a", "server-b"),
    redis_url: str | None = None,
    broker_url: str | None = None,
    database_url: str | None = None,
) -> Iterator[Cluster]:
    """Start the servers (and a Celery worker) on the test database; stop them on exit.

    extra_env is added to the processes' environment (e.g. shorter presence timers).
    redis_url, broker_url and database_url replace the shared Redis, RabbitMQ and test
    database (a test that restarts one gives its own). The cluster's task queue is its own
    and deleted on exit.
    """
    redis_url = redis_url or service_url_or_skip("PARLEY_TEST_REDIS_URL", "Redis")
    broker_url = broker_url or broker_url_or_skip()
    postgres_or_skip()
    task_queue = f"parley-e2e-{uuid.uuid4().hex[:12]}"
    env = _environment(
        database_url=database_url or _database_url(),
        redis_url=redis_url,
        broker_url=broker_url,
        task_queue=task_queue,
        # The embedded search index of this cluster's processes (one host): a folder of its own.
        extra={"PARLEY_SEARCH_INDEX_DIR": str(Path(log_dir) / "search-index"), **(extra_env or {})},
    )
    cluster = Cluster(
        servers=[],
        worker=None,
        redis_url=redis_url,
        broker_url=broker_url,
        task_queue=task_queue,
        env=env,
        log_dir=log_dir,
    )
    try:
        for name in server_names:
            server = _server_start(name, env, log_dir)
            cluster.servers.append(server)
            cluster.processes.append(server)
        if with_worker:
            cluster.worker = cluster.worker_start("celery-worker")
        for server in cluster.servers:
            _wait_until(
                server,
                lambda server=server: _port_answers(server.port),
                f"answer on port {server.port}",
            )
        yield cluster
    finally:
        for process in reversed(cluster.processes):
            process.stop()
        cluster.queue_delete()


@pytest.fixture(scope="module")
def cluster(django_db_setup, tmp_path_factory) -> Iterator[Cluster]:
    """Two ASGI servers and one Celery worker on the test database and one Redis database."""
    with cluster_running(tmp_path_factory.mktemp("e2e-logs")) as running:
        yield running


# -- clients --------------------------------------------------------------------------------


class Client:
    """A WebSocket client that keeps every frame it has read, in arrival order."""

    def __init__(self, person: Person, server: Server, token: str) -> None:
        self.person = person
        self.server = server
        self.token = token
        self._stack = ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(
                server.ws_url,
                additional_headers={"Authorization": f"Bearer {token}"},
                proxy=None,
                open_timeout=FRAME_TIMEOUT,
                close_timeout=2,
                max_queue=1024,
            )
        )
        self.unread: list[dict] = []  # read from the socket, not yet taken by a test
        try:
            self.hello = self.take("hello")
        except BaseException:
            self.close()
            raise

    def send(self, **frame) -> None:
        self.ws.send(json.dumps(frame))

    def _read(self, deadline: float) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return json.loads(self.ws.recv(timeout=remaining))

    def take(
        self, frame_type: str, *, where=None, timeout: float = FRAME_TIMEOUT, **fields
    ) -> dict:
        """Return (and remove) the first frame of a type with these fields; keep the others."""

        def matches(frame: dict) -> bool:
            return (
                frame["type"] == frame_type
                and all(frame.get(key) == value for key, value in fields.items())
                and (where is None or where(frame))
            )

        for index, frame in enumerate(self.unread):
            if matches(frame):
                return self.unread.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            try:
                frame = self._read(deadline)
            except TimeoutError:
                pytest.fail(
                    f"{self.person.username} on {self.server.name} got no {frame_type} frame "
                    f"{fields or ''} within {timeout} s; unread frames: {self.unread}"
                )
            if matches(frame):
                return frame
            self.unread.append(frame)

    def message_send(self, *, conversation: int, body: str, ref: str) -> dict:
        """Send a message and return its ack."""
        self.send(type="message.send", conversation=conversation, body=body, client_id=ref, ref=ref)
        return self.take("message.ack", ref=ref)

    def messages_until(self, message_id: int, timeout: float = FRAME_TIMEOUT) -> list[dict]:
        """Return the messages of every message.new read, up to the one with this id."""
        last = self.take(
            "message.new", where=lambda f: f["message"]["id"] == message_id, timeout=timeout
        )
        received = [f["message"] for f in self.unread if f["type"] == "message.new"]
        self.unread = [f for f in self.unread if f["type"] != "message.new"]
        return [*received, last["message"]]

    def close(self) -> None:
        self._stack.close()


@pytest.fixture
def connect_client(cluster, transactional_db) -> Iterator:
    """Open WebSocket clients with fresh bearer tokens; all closed after the test, and the
    worker left idle before the database is flushed (this teardown runs before the flush)."""
    clients: list[Client] = []

    def open_client(person: Person, server: Server, *, token: str | None = None) -> Client:
        if token is None:
            _, token = directory.token_create(person=person)
        client = Client(person, server, token)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()
    cluster.wait_until_worker_idle()


def http_get_json(server: Server, path: str, *, token: str) -> tuple[int, dict]:
    """GET a JSON resource from a server with a bearer token, without any proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1:<port>
        server.http_url + path, headers={"Authorization": f"Bearer {token}"}
    )
    with opener.open(request, timeout=FRAME_TIMEOUT) as response:
        return response.status, json.loads(response.read())


# -- archive indexing under a worker ---------------------------------------------------------


def archive_records_capture(*, people: tuple, count: int) -> None:
    """Capture count message records across three group conversations, all to be indexed."""
    from archiving.models import ArchiveEvent
    from archiving.services import capture

    first, second = people
    start = datetime(2026, 3, 2, tzinfo=UTC)
    for n in range(count):
        capture(
            conversation_id=1 + n % 3,
            conversation_kind="group",
            is_external=False,
            participant_ids=[first.pk, second.pk],
            event=ArchiveEvent.MESSAGE_POSTED,
            actor=first if n % 2 else second,
            occurred_at=start + timedelta(seconds=n),
            body=f"quarterly figures part {n}",
            message_id=n + 1,
        )


def index_table_lock_waited_on(admin) -> bool:
    """Whether a session waits for a lock on the search table (a worker inside a batch)."""
    row = admin.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = 'archiving_search_vector' AND NOT l.granted"
    ).fetchone()
    return row[0] > 0
