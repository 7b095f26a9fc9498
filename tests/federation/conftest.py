"""Real parts for the federation tests: Prosody on loopback, two uvicorn servers and the XMPP
gateway (`manage.py xmpp_gateway`) as their own processes on the test database and Redis.

Tests using them must be `@pytest.mark.django_db(transaction=True)`: the processes only see
committed rows.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chat.models import OutboundDelivery
from directory import services as directory
from directory.models import FederationPartner, Person
from tests.e2e.conftest import (
    VENV_BIN,
    Client,
    Cluster,
    Process,
    Server,
    _spawn,
    cluster_running,
)
from tests.federation.prosody import (
    BLOCKED,
    COMPONENT,
    EXTERNAL,
    SECRET,
    Prosody,
    prosody_create,
    prosody_or_skip,
    prosody_remove,
)
from tests.federation.xmpp_client import XmppClient

PASSWORD = "xmpp-test-password"
CONNECT_TIMEOUT = 30.0


GATEWAY_ARGV = [str(VENV_BIN / "python"), "manage.py", "xmpp_gateway"]


@dataclass
class Federation:
    prosody: Prosody
    cluster: Cluster
    gateway: Process
    gateway_env: dict[str, str]
    log_dir: Path
    gateway_starts: int = 1

    def gateway_restart(self) -> None:
        """Start a new gateway process (the last one stopped, or was killed by the test)."""
        self.gateway.stop()
        self.gateway_starts += 1
        name = f"xmpp-gateway-{self.gateway_starts}"
        popen, log_path = _spawn(name, GATEWAY_ARGV, self.gateway_env, self.log_dir)
        self.gateway = Process(name=name, popen=popen, log_path=log_path)
        self.cluster.processes.append(self.gateway)
        self.wait_gateway_connected(count=1)

    @property
    def server(self) -> Server:
        return self.cluster.a

    def wait_gateway_connected(self, *, count: int) -> None:
        """Wait until the gateway has (re)connected to Prosody `count` times in all."""
        self.wait_gateway_log("XMPP gateway connected", count=count)

    def wait_gateway_log(self, text: str, *, count: int) -> None:
        """Wait until the gateway's log holds a line `count` times."""
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while self.gateway.log_path.read_text(errors="replace").count(text) < count:
            if self.gateway.popen.poll() is not None:
                pytest.fail(f"the gateway exited:\n{self.gateway.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the gateway's log has no {text!r} x{count}:\n{self.gateway.log_tail()}\n"
                    f"--- prosody ---\n{self.prosody.log_tail()}"
                )
            time.sleep(0.1)

    def wait_delivery_settled(self, *, message_id: int) -> OutboundDelivery:
        """Wait until the gateway has marked the delivery of a message sent or failed.

        The gateway marks a delivery after the XMPP server confirmed the hand-over, so the
        recipient can hold the stanza a moment before the row says so: wait for the row.
        """
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while True:
            row = OutboundDelivery.objects.get(message_id=message_id)
            if row.sent_at is not None or row.failed_at is not None:
                return row
            if self.gateway.popen.poll() is not None:
                pytest.fail(f"the gateway exited:\n{self.gateway.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the delivery of message {message_id} was never marked:\n"
                    f"{self.gateway.log_tail()}"
                )
            time.sleep(0.05)


@pytest.fixture(scope="module")
def federation(django_db_setup, tmp_path_factory) -> Iterator[Federation]:
    """Prosody, two Parley servers and the gateway, for the module."""
    prosody_or_skip()
    prosody = prosody_create()
    log_dir = tmp_path_factory.mktemp("federation-logs")
    try:
        prosody.start()
        for user in ("bob", "dave", "erin"):
            prosody.register(user, EXTERNAL, PASSWORD)
        prosody.register("mallory", BLOCKED, PASSWORD)
        with cluster_running(
            log_dir,
            with_worker=False,
            server_names=("server-a", "server-b"),
            extra_env={"PARLEY_CHANNEL_PREFIX": f"parley-fed-{os.getpid()}"},
        ) as cluster:
            env = {
                **cluster.env,
                "PARLEY_XMPP_HOST": "127.0.0.1",
                "PARLEY_XMPP_PORT": str(prosody.component_port),
                "PARLEY_XMPP_COMPONENT": COMPONENT,
                "PARLEY_XMPP_SECRET": SECRET,
                "PARLEY_XMPP_POLL_SECONDS": "1",
                "PARLEY_XMPP_RECONNECT_MAX_SECONDS": "2",
                "PARLEY_SERVER_NAME": "xmpp-gateway",
            }
            popen, log_path = _spawn("xmpp-gateway", GATEWAY_ARGV, env, log_dir)
            gateway = Process(name="xmpp-gateway", popen=popen, log_path=log_path)
            cluster.processes.append(gateway)
            running = Federation(
                prosody=prosody, cluster=cluster, gateway=gateway, gateway_env=env, log_dir=log_dir
            )
            running.wait_gateway_connected(count=1)
            yield running
    finally:
        prosody_remove(prosody)


@pytest.fixture
def partners(transactional_db) -> None:
    """external.localhost is an allowed partner; blocked.localhost is blocked."""
    FederationPartner.objects.create(domain=EXTERNAL, status=FederationPartner.Status.ALLOWED)
    FederationPartner.objects.create(domain=BLOCKED, status=FederationPartner.Status.BLOCKED)


@pytest.fixture
def xmpp_login(federation) -> Iterator:
    clients: list[XmppClient] = []

    def login(user: str, host: str = EXTERNAL) -> XmppClient:
        client = XmppClient(f"{user}@{host}", PASSWORD, federation.prosody.c2s_port)
        clients.append(client)
        return client

    yield login
    for client in clients:
        client.close()


@pytest.fixture
def ws_connect(federation, transactional_db) -> Iterator:
    clients: list[Client] = []

    def open_client(person: Person, server: Server | None = None) -> Client:
        _, token = directory.token_create(person=person)
        client = Client(person, server or federation.server, token)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()
    time.sleep(0.3)  # let the server close the endpoints before the database is flushed
