"""The page repairs a gap in live messages after Redis (the channel layer) restarts.

A server of its own on a private redis-server: while Redis is down, messages are stored but
not pushed, and the page's socket stays open. When the server's layer reconnects it sends
`resync`; the page must then show every missed message, in order, without reconnecting or
reloading.
"""

import time
import uuid
from collections.abc import Iterator

import pytest

from chat import services as chat
from presence.models import Endpoint
from tests.e2e.conftest import cluster_running
from tests.e2e.instances import RedisServer
from tests.web.conftest import Browsing, api_call

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
RESYNC_TIMEOUT_MS = 30_000


def wait_for_bodies(page, expected: list[str]) -> None:
    """Wait until the conversation shows exactly these message texts, in this order."""
    page.wait_for_function(
        "expected => JSON.stringify([...document.querySelectorAll("
        "'#message-list .message-body')].map(e => e.innerText)) === JSON.stringify(expected)",
        arg=expected,
        timeout=RESYNC_TIMEOUT_MS,
    )


@pytest.fixture
def restartable(browser, django_db_setup, transactional_db, tmp_path_factory) -> Iterator:
    """A browser session against a server whose Redis the test can stop and start."""
    redis = RedisServer(directory=tmp_path_factory.mktemp("redis"))
    redis.start()
    extra_env = {
        "PARLEY_TASKS_EAGER": "1",
        "PARLEY_CHANNEL_PREFIX": f"parley-web-faults-{uuid.uuid4().hex[:12]}",
    }
    try:
        with cluster_running(
            tmp_path_factory.mktemp("web-faults-logs"),
            extra_env=extra_env,
            with_worker=False,
            server_names=("web",),
            redis_url=redis.url(),
        ) as cluster:
            opened = Browsing(server=cluster.a, browser=browser)
            try:
                yield opened, redis
            finally:
                for context in opened.contexts:
                    context.close()
                deadline = time.monotonic() + 10
                while Endpoint.objects.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
    finally:
        redis.stop()


def test_the_page_shows_messages_missed_while_redis_restarted_without_reconnecting(
    restartable, alice, bob
):
    browsing, redis = restartable
    direct, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    sockets = []
    bob_page = browsing.client(
        bob, before_load=lambda page: page.on("websocket", lambda ws: sockets.append(ws.url))
    )
    bob_page.evaluate("window.sameDocument = true")
    bob_page.get_by_role("button", name="Alice Martin").first.click()
    path = f"conversations/{direct.pk}/messages/"
    api_call(browsing.server, alice, "POST", path, {"body": "before", "client_id": "b"})
    wait_for_bodies(bob_page, ["before"])

    redis.stop()
    for n in (1, 2):
        body = {"body": f"during {n}", "client_id": f"d{n}"}
        api_call(browsing.server, alice, "POST", path, body)
    redis.start()

    wait_for_bodies(bob_page, ["before", "during 1", "during 2"])
    assert len(sockets) == 1  # the same socket: no reconnect
    assert bob_page.evaluate("window.sameDocument") is True  # no reload
    assert bob_page.locator("#connection-status").is_hidden()
