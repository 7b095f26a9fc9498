"""Browser tests: Playwright drives Debian's Chromium against one real uvicorn server.

Chromium comes from Debian (`scripts/test.sh` installs it as root when /usr/bin/chromium is
missing); Playwright never downloads a browser. Without it the tests skip, except in CI
(`CI=true`), where a missing Chromium is a failure.

One browser and one server serve all the browser tests (tests/e2e/conftest.py's processes, on
the test database and Redis, tasks in-process). The server only sees committed rows, so the
tests are transactional; each signs its people in by giving the browser a session cookie
made in the test database (the sign-in test alone goes through the form). Everything a test
asserts is what a person would see in the page.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.test import Client as DjangoClient

from directory import services as directory
from directory.models import Person
from presence.models import Endpoint
from tests.conftest import IN_CI
from tests.e2e.conftest import ROOT, Server, cluster_running

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
CHROMIUM = os.environ.get("PARLEY_TEST_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
IDLE_SECONDS = 2  # the server's PARLEY_WEB_IDLE_SECONDS: pages report idle quickly
TIMEOUT_MS = 10_000
# Screenshots of the main pages, for people (and CI artifacts) to look at.
SCREENSHOTS = Path(
    os.environ.get("PARLEY_TEST_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots")
)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        reason = (
            f"no Chromium at {CHROMIUM}: scripts/test.sh installs it when run as root "
            "(apt-get install chromium chromium-driver)"
        )
        if IN_CI:
            pytest.fail(f"{reason}; CI requires the browser tests to run.")
        pytest.skip(reason)
    return CHROMIUM


@contextmanager
def chromium_launched(chromium_path: str):
    """Launch Chromium for a fixture's lifetime (Playwright's sync API allows one at a time)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop marked running on this thread, which makes
    # Django refuse database calls from the (synchronous) tests. No coroutine of ours runs on
    # that loop, so the check is switched off while the browser is up (these tests only: the
    # fixture ends with its scope, and the variable is restored before anything else runs).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=chromium_path, args=LAUNCH_ARGS)
            try:
                yield launched
            finally:
                launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser(chromium_path):
    with chromium_launched(chromium_path) as launched:
        yield launched


@pytest.fixture(autouse=True)
def _search_in_the_database(settings):
    """What the test process indexes, the web server searches: the database backend."""
    from archiving.search.backend import backend_reset

    settings.PARLEY_ARCHIVE_SEARCH_BACKEND = "database"
    backend_reset()


@pytest.fixture(scope="package")
def web_server(chromium_path, django_db_setup, tmp_path_factory) -> Iterator[Server]:
    """One uvicorn process on the test database; tasks run in it (search indexing)."""
    extra_env = {
        "PARLEY_TASKS_EAGER": "1",
        "PARLEY_CHANNEL_PREFIX": f"parley-web-{uuid.uuid4().hex[:12]}",
        "PARLEY_WEB_IDLE_SECONDS": str(IDLE_SECONDS),
        # The server outlives each test's database (flushed between tests) and the test
        # process indexes beside it: both use the index inside the database.
        "PARLEY_ARCHIVE_SEARCH_BACKEND": "database",
    }
    with cluster_running(
        tmp_path_factory.mktemp("web-logs"),
        extra_env=extra_env,
        with_worker=False,
        server_names=("web",),
    ) as cluster:
        yield cluster.a


@dataclass
class Browsing:
    """The pages a test opened, with what each logged to its console."""

    server: Server
    browser: object
    contexts: list = field(default_factory=list)

    def context(
        self, person: Person | None = None, *, viewport: dict = DESKTOP, locale: str = "en-US"
    ):
        """A browser context; `locale` is the browser's language (its Accept-Language)."""
        context = self.browser.new_context(
            base_url=self.server.http_url, viewport=viewport, locale=locale
        )
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        if person is not None:
            session_sign_in(context, person, self.server)
        return context

    def page(self, context, path: str = "/", *, before_load=None):
        page = context.new_page()
        if before_load is not None:
            before_load(page)
        page.console_lines = []
        page.dialogs = []
        page.on("console", lambda message: page.console_lines.append(message.text))
        page.on("pageerror", lambda error: page.console_lines.append(f"pageerror: {error}"))

        def on_dialog(dialog):
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(path)
        return page

    def client(self, person: Person, *, viewport: dict = DESKTOP, before_load=None):
        """Open the client signed in as the person and wait until its socket is open."""
        page = self.page(self.context(person, viewport=viewport), before_load=before_load)
        page.wait_for_selector("body[data-connection='open']")
        return page


@pytest.fixture(autouse=True)
def _no_fanout_from_the_test_process(monkeypatch):
    """Services called here (to set up data) broadcast to nobody: the sockets live in the
    server process. Skip the publish, which cannot run under Playwright's event loop anyway."""
    from directory import realtime

    monkeypatch.setattr(realtime, "publish", lambda **kwargs: None)


def session_sign_in(context, person: Person, server: Server) -> None:
    """Give the browser a session of the person, made in the test database."""
    client = DjangoClient()
    client.force_login(person)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.http_url}]
    )


@pytest.fixture
def browsing(browser, web_server, transactional_db) -> Iterator[Browsing]:
    """Open browser contexts for a test; closed after it, and the server's sockets gone
    before the database is flushed (a socket closing writes presence rows)."""
    opened = Browsing(server=web_server, browser=browser)
    yield opened
    for context in opened.contexts:
        context.close()
    deadline = time.monotonic() + 10
    while Endpoint.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the last close's presence broadcast and log row


def api_call(server: Server, person: Person, method: str, path: str, body=None) -> dict | None:
    """Call the REST API on the server as the person (a bearer token), as another client of
    theirs would."""
    _, token = directory.token_create(person=person)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(  # noqa: S310 - always http://127.0.0.1:<port>
        f"{server.http_url}/api/v1/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with opener.open(request, timeout=10) as response:
            text = response.read()
    except urllib.error.HTTPError as error:
        pytest.fail(f"{method} {path} -> {error.code}: {error.read()[:500]!r}")
    return json.loads(text) if text else None


def screenshot(page, name: str) -> None:
    """Save a full-page screenshot as SCREENSHOTS/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
