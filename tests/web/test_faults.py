"""The page rides out restarts of Redis (the channel layer) and of PostgreSQL.

Redis: a server of its own on a private redis-server. While Redis is down, messages are
stored but not pushed, and the page's socket stays open. When the server's layer reconnects
it sends `resync`; the page must then show every missed message, in order, without
reconnecting or reloading.

PostgreSQL: a server on a private cluster (a copy of the test database). A message sent
while the database is down is refused as `unavailable`; the page keeps it, says it waits,
and sends it again with the same client_id until it is stored, once.
"""

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.test import Client as DjangoClient

from chat import services as chat
from presence.models import Endpoint
from tests.e2e.conftest import _database_url, cluster_running
from tests.e2e.instances import PostgresCluster, RedisServer
from tests.web.conftest import DESKTOP, Browsing, api_call

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
RESYNC_TIMEOUT_MS = 30_000


def send(page, text: str) -> None:
    page.locator("#composer-text").fill(text)
    page.keyboard.press("Enter")


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


@pytest.fixture
def postgres_cluster() -> Iterator[PostgresCluster]:
    # Not under pytest's temporary folder: PostgreSQL runs as the postgres user, which may
    # not enter root's.
    directory = Path(tempfile.mkdtemp(prefix="parley-pg-"))
    cluster = PostgresCluster(directory=directory)
    try:
        cluster.create()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_a_message_sent_while_the_database_restarts_is_stored_once_when_it_is_back(
    browser, transactional_db, tmp_path, postgres_cluster, alice, bob
):
    direct, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    signed_in = DjangoClient()
    signed_in.force_login(alice)  # the session row goes into the copy below
    connection.close()
    database_url = postgres_cluster.database_copy(source_url=_database_url(), name="parley")
    extra_env = {
        "PARLEY_TASKS_EAGER": "1",
        "PARLEY_CHANNEL_PREFIX": f"parley-web-faults-{uuid.uuid4().hex[:12]}",
        "DATABASE_POOL_TIMEOUT": "2",
        "PARLEY_UNAVAILABLE_RETRY_AFTER_SECONDS": "1",
    }
    with cluster_running(
        tmp_path,
        extra_env=extra_env,
        with_worker=False,
        server_names=("web",),
        database_url=database_url,
    ) as cluster:
        context = browser.new_context(base_url=cluster.a.http_url, viewport=DESKTOP)
        try:
            context.set_default_timeout(RESYNC_TIMEOUT_MS)
            context.add_cookies(
                [
                    {
                        "name": "sessionid",
                        "value": signed_in.cookies["sessionid"].value,
                        "url": cluster.a.http_url,
                    }
                ]
            )
            page = context.new_page()
            page.goto("/")
            page.wait_for_selector("body[data-connection='open']")
            page.get_by_role("button", name="Bob Chen").first.click()

            postgres_cluster.stop()
            send(page, "sent while the database restarts")
            page.get_by_text("Waiting for the server…").wait_for()
            postgres_cluster.start()

            page.wait_for_selector(".message--pending", state="detached")
            assert page.locator(".message--failed").count() == 0
            wait_for_bodies(page, ["sent while the database restarts"])
        finally:
            context.close()

    with psycopg.connect(database_url) as stored:
        rows = stored.execute(
            "SELECT body, client_id FROM chat_message WHERE conversation_id = %s", [direct.pk]
        ).fetchall()
    assert len(rows) == 1
    assert rows[0][0] == "sent while the database restarts"
