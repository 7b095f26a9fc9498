"""Shared fixtures: people, tokens, API clients, and the services a test may need."""

import os
import socket

import pytest
from rest_framework.test import APIClient

from directory import services as directory
from directory.models import Person

PASSWORD = "correct horse battery staple"
IN_CI = os.environ.get("CI") == "true"


@pytest.fixture(autouse=True)
def _embedded_realtime(settings):
    """Unit tests run on the in-memory layer with in-process tasks, whatever the environment."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 10_000},
        }
    }
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Real hashing costs ~0.3 s a person; tests create hundreds.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _organisation_defaults():
    """Each test starts from the organisation defaults of an empty database (English, UTC),
    held for the whole test: a request never reads them in the middle of a query count. A test
    that sets them goes through the service, which drops the held value."""
    from directory import locale

    locale.organisation_defaults_hold(locale.Defaults(language="en", time_zone="UTC"))
    yield
    locale.organisation_defaults_forget()


@pytest.fixture(autouse=True)
def _search_index_of_this_test(settings, tmp_path):
    """The embedded search index lives in a folder outside the database: each test (each
    test database, rolled back or flushed after it) gets a folder of its own."""
    from archiving.search.backend import backend_reset

    settings.PARLEY_SEARCH_INDEX_DIR = tmp_path / "search-index"
    backend_reset()
    yield
    backend_reset()


def service_url_or_skip(variable: str, what: str) -> str:
    """Return a service URL from the environment; skip without it, but fail in CI."""
    url = os.environ.get(variable, "")
    if not url:
        message = f"{what} is not available ({variable} is not set by scripts/test.sh)"
        if IN_CI:
            pytest.fail(f"{message}; CI requires it.")
        pytest.skip(message)
    return url


def postgres_or_skip() -> None:
    """Skip (fail in CI) unless the test database is PostgreSQL."""
    from django.db import connection

    if connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("CI runs the suite on PostgreSQL; DATABASE_URL is not PostgreSQL.")
        pytest.skip("needs PostgreSQL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_person(db):
    counter = {"n": 0}

    def make(username: str | None = None, **fields) -> Person:
        counter["n"] += 1
        name = username or f"person{counter['n']}"
        fields.setdefault("display_name", name.title())
        return directory.person_create(username=name, password=PASSWORD, **fields)

    return make


@pytest.fixture
def alice(make_person):
    return make_person("alice", display_name="Alice Martin")


@pytest.fixture
def bob(make_person):
    return make_person("bob", display_name="Bob Chen")


@pytest.fixture
def carol(make_person):
    return make_person("carol", display_name="Carol Diaz")


@pytest.fixture
def api_client_for():
    """Return an API client signed in with a fresh bearer token of the person."""

    def client_for(person: Person) -> APIClient:
        _, plaintext = directory.token_create(person=person)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        client.token = plaintext
        return client

    return client_for
