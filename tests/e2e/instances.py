"""Private service instances the fault tests stop and start: RabbitMQ, Redis, PostgreSQL.

The shared services on 127.0.0.1 serve every test run on the machine, so a test that restarts
one starts its own: a RabbitMQ node, a redis-server or a PostgreSQL cluster on free ports, with
their files in a temporary folder. A missing program skips the test, except in CI, where it
fails (scripts/test.sh installs the Debian packages).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import IN_CI, free_port

# Cold starts of RabbitMQ take 15-30 s on a loaded two-core machine.
RABBITMQ_START_TIMEOUT = 120.0
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def _program_or_skip(path: Path | str | None, what: str) -> str:
    if path is None or not Path(path).exists():
        message = f"{what} is not installed (scripts/test.sh installs it as root)"
        if IN_CI:
            pytest.fail(f"{message}; CI requires it.")
        pytest.skip(message)
    return str(path)


def _port_answers(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _wait_port(port: int, popen: subprocess.Popen | None, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _port_answers(port):
        if popen is not None and popen.poll() is not None:
            pytest.fail(f"exited with {popen.returncode} before answering:\n{_tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"did not answer on port {port} within {timeout:.0f} s:\n{_tail(log)}")
        time.sleep(0.1)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_group(popen: subprocess.Popen) -> None:
    """SIGTERM the process group (a launcher script and its children), then wait."""
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGTERM)
    try:
        popen.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(popen.pid, signal.SIGKILL)
        popen.wait(timeout=STOP_TIMEOUT)


@dataclass
class RabbitMQNode:
    """A RabbitMQ node of its own (node name, AMQP and distribution ports, data folder)."""

    directory: Path
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    name: str = field(default_factory=lambda: f"parley-test-{uuid.uuid4().hex[:8]}@localhost")
    popen: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def log_path(self) -> Path:
        return self.directory / f"rabbitmq-{self.starts}.log"

    def start(self) -> None:
        program = _program_or_skip(RABBITMQ_SERVER, "rabbitmq-server")
        (self.directory / "enabled_plugins").write_text("[].\n")  # none of /etc's plugins
        env = {
            **os.environ,
            "HOME": str(self.directory),  # the Erlang cookie of this node
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.directory / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.directory / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.directory / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.directory / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.directory / "rabbitmq.pid"),
        }
        self.starts += 1
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                [program],
                cwd=self.directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _wait_port(self.port, self.popen, self.log_path, RABBITMQ_START_TIMEOUT)

    def stop(self) -> None:
        if self.popen is not None:
            _stop_group(self.popen)
            self.popen = None

    def restart(self) -> None:
        """Stop the node (its connections drop) and start it again on the same ports."""
        self.stop()
        self.start()


@dataclass
class RedisServer:
    """A redis-server of its own on a free port, without persistence."""

    directory: Path
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen | None = None
    starts: int = 0

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        program = _program_or_skip(shutil.which("redis-server"), "redis-server")
        self.starts += 1
        log_path = self.directory / f"redis-{self.starts}.log"
        with log_path.open("wb") as log:
            args = [program, "--daemonize", "no", "--bind", "127.0.0.1", "--port", str(self.port)]
            args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
            self.popen = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _wait_port(self.port, self.popen, log_path, START_TIMEOUT)

    def stop(self) -> None:
        if self.popen is not None:
            _stop_group(self.popen)
            self.popen = None


def _postgres_bin() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    return versions[0].parent if versions else None


@dataclass
class PostgresCluster:
    """A PostgreSQL cluster of its own (initdb + pg_ctl) on a free port, trust auth.

    PostgreSQL refuses to run as root, so as root the cluster belongs to the postgres user.
    """

    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgresql.log"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        bin_dir = _program_or_skip(_postgres_bin(), "PostgreSQL (postgresql-NN)")
        command = [str(Path(bin_dir) / args[0]), *args[1:]]
        if os.geteuid() == 0:
            user = ["--reuid=postgres", "--regid=postgres", "--clear-groups"]
            command = ["setpriv", *user, *command]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=120, check=False, cwd=self.directory
        )
        if result.returncode != 0:
            pytest.fail(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def create(self) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", options, "start")

    def database_copy(self, *, source_url: str, name: str) -> str:
        """Create a database holding a copy of another (schema and rows); return its URL."""
        bin_dir = Path(_program_or_skip(_postgres_bin(), "PostgreSQL (postgresql-NN)"))
        target = self.url("postgres")
        subprocess.run(
            [str(bin_dir / "psql"), target, "-q", "-c", f'CREATE DATABASE "{name}"'],
            check=True,
            capture_output=True,
            timeout=60,
        )
        dump = subprocess.run(
            [str(bin_dir / "pg_dump"), "--no-owner", "--no-privileges", source_url],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [str(bin_dir / "psql"), self.url(name), "-q", "-v", "ON_ERROR_STOP=1"],
            input=dump.stdout,
            check=True,
            capture_output=True,
            timeout=120,
        )
        return self.url(name)

    def stop(self) -> None:
        """Stop at once (fast mode: open sessions are ended, as in a restart)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "stop")
