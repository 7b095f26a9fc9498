"""A real Prosody on loopback for the federation tests: config in a temporary folder, its own
ports, started as the prosody user when the tests run as root (Prosody refuses root)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import IN_CI, free_port

PROSODY = "/usr/bin/prosody"
PROSODYCTL = "/usr/bin/prosodyctl"
EXTERNAL = "external.localhost"
BLOCKED = "blocked.localhost"
COMPONENT = "gw.localhost"
SECRET = "component-secret-for-tests"
START_TIMEOUT = 20.0

CONFIG = """\
-- Written by tests/federation/prosody.py: loopback only, no TLS, no s2s, no HTTP.
pidfile = "{dir}/prosody.pid"
data_path = "{dir}/data"
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = "{dir}/prosody.log" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s} }}
component_ports = {{ {component} }}
component_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
c2s_direct_tls_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "posix"; "offline" }}
modules_disabled = {{ "s2s"; "tls"; "http"; "c2s_direct_tls" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"

VirtualHost "{external}"
VirtualHost "{blocked}"

Component "{component_domain}"
    component_secret = "{secret}"
"""


def prosody_or_skip() -> None:
    """Skip (fail in CI) when Prosody is not installed."""
    import pytest

    if not (Path(PROSODY).exists() and Path(PROSODYCTL).exists()):
        message = "Prosody is not installed (scripts/test.sh installs it with apt-get as root)"
        if IN_CI:
            pytest.fail(f"{message}; CI requires it.")
        pytest.skip(message)


def _port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def _as_prosody_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["setpriv", "--reuid=prosody", "--regid=prosody", "--init-groups", *args]


@dataclass
class Prosody:
    dir: Path
    c2s_port: int
    component_port: int
    popen: subprocess.Popen | None = None
    users: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.dir / "prosody.cfg.lua"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = (self.dir / "prosody.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        out = (self.dir / "stdout.log").open("ab")
        try:
            self.popen = subprocess.Popen(
                _as_prosody_user([PROSODY, "--config", str(self.config), "-F"]),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            out.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"prosody exited with {self.popen.returncode}:\n{self.log_tail()}"
                )
            if _port_answers(self.c2s_port) and _port_answers(self.component_port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"prosody did not listen within {START_TIMEOUT} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        # A restart too soon after a stop can leave a process that does not listen.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            _port_answers(self.c2s_port) or _port_answers(self.component_port)
        ):
            time.sleep(0.1)

    def register(self, user: str, host: str, password: str) -> str:
        result = subprocess.run(
            _as_prosody_user(
                [PROSODYCTL, "--config", str(self.config), "register", user, host, password]
            ),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"prosodyctl register failed: {result.stdout}{result.stderr}")
        jid = f"{user}@{host}"
        self.users[jid] = password
        return jid


def prosody_create() -> Prosody:
    """Write a config into a fresh folder the prosody user owns; return the (stopped) server."""
    folder = Path(tempfile.mkdtemp(prefix="parley-prosody-"))
    (folder / "data").mkdir()
    server = Prosody(dir=folder, c2s_port=free_port(), component_port=free_port())
    server.config.write_text(
        CONFIG.format(
            dir=folder,
            c2s=server.c2s_port,
            component=server.component_port,
            external=EXTERNAL,
            blocked=BLOCKED,
            component_domain=COMPONENT,
            secret=SECRET,
        )
    )
    if os.geteuid() == 0:
        shutil.chown(folder, "prosody", "prosody")
        for path in folder.rglob("*"):
            shutil.chown(path, "prosody", "prosody")
    return server


def prosody_remove(server: Prosody) -> None:
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)
