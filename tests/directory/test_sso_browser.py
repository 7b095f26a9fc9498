"""OpenID Connect single sign-on, driven through the browser: Chromium (Playwright) signs in
at Parley's page through a real provider (tests/directory/oidc_provider.py) and lands in the
client as the directory person the provider vouches for; strangers and leavers are refused."""

import time
import uuid

import pytest

from directory import services
from directory.models import Person
from presence.models import Endpoint
from tests.directory.oidc_provider import OidcProvider
from tests.e2e.conftest import cluster_running
from tests.web.conftest import (  # noqa: F401
    TIMEOUT_MS,
    chromium_launched,
    chromium_path,
    screenshot,
)


@pytest.fixture(scope="module")
def browser(chromium_path):  # noqa: F811
    """Chromium for this module only (tests/web keeps its own)."""
    with chromium_launched(chromium_path) as launched:
        yield launched


@pytest.fixture(scope="module")
def provider():
    started = OidcProvider()
    started.start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def sso_server(chromium_path, provider, django_db_setup, tmp_path_factory):  # noqa: F811
    extra_env = {
        "PARLEY_TASKS_EAGER": "1",
        "PARLEY_CHANNEL_PREFIX": f"parley-sso-{uuid.uuid4().hex[:12]}",
        **provider.settings_env(),
    }
    with cluster_running(
        tmp_path_factory.mktemp("sso-logs"),
        extra_env=extra_env,
        with_worker=False,
        server_names=("sso",),
    ) as cluster:
        yield cluster.a


@pytest.fixture
def page(browser, sso_server, transactional_db):
    context = browser.new_context(base_url=sso_server.http_url)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()
    deadline = time.monotonic() + 10
    while Endpoint.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the socket's close writes presence rows: let it finish first


def _sso_sign_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.click("#sso-sign-in")
    page.wait_for_selector("#idp-sign-in")  # the provider's own page
    page.fill("#idp-username", username)
    page.fill("#idp-password", password)
    page.click("#idp-sign-in")


def test_sso_signs_a_directory_person_in_through_the_provider(page, provider):
    dave = services.person_create(
        username="dave", password=None, display_name="Dave Analyst", email="dave@bank.test"
    )
    provider.add_user("dave", "idp-pass", preferred_username="dave", email="dave@bank.test")

    _sso_sign_in(page, "dave", "idp-pass")

    page.wait_for_selector("body[data-connection='open']")
    assert "/login/" not in page.url
    screenshot(page, "sso-signed-in")
    me = page.request.get("/api/v1/me/")
    assert me.json()["username"] == dave.username


def test_sso_matches_by_email_when_the_username_claim_differs(page, provider):
    services.person_create(username="erin", password=None, email="Erin@Bank.test")
    provider.add_user("erin.t", "idp-pass", preferred_username="erin.t", email="erin@bank.test")

    _sso_sign_in(page, "erin.t", "idp-pass")

    page.wait_for_selector("body[data-connection='open']")
    assert page.request.get("/api/v1/me/").json()["username"] == "erin"


def test_sso_refuses_a_stranger_and_a_deactivated_person(page, provider):
    provider.add_user("mallory", "idp-pass", preferred_username="mallory", email="m@evil.test")
    leaver = services.person_create(username="leo", password=None, email="leo@bank.test")
    services.person_deactivate(person=leaver)
    provider.add_user("leo", "idp-pass", preferred_username="leo", email="leo@bank.test")

    for username in ("mallory", "leo"):
        _sso_sign_in(page, username, "idp-pass")
        page.wait_for_selector("text=Single sign-on did not sign you in")
        assert "/login/" in page.url
        screenshot(page, f"sso-refused-{username}")
        assert page.request.get("/api/v1/me/").status in (401, 403)
    assert not Person.objects.filter(username="mallory").exists()
