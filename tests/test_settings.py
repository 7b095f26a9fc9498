"""Start-up configuration, checked in a fresh interpreter as a deployment would start."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.DATABASES['default']['ENGINE'])"
)
JOURNAL_MODE = (
    "import django; django.setup(); from django.db import connection; "
    "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])"
)
PRODUCTION = {
    "DJANGO_PRODUCTION": "1",
    "DJANGO_SECRET_KEY": "kq3Zr8-Vw1xYp0sT7uLm2NbC4dEfGhJ5aQ9iO6lK_yR" * 2,
    "DATABASE_URL": "postgres://parley@db.internal:5432/parley",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "ELASTICSEARCH_URL": "https://parley:secret@search.internal:9200",
    "CELERY_BROKER_URL": "amqp://parley:secret@rabbitmq.internal:5672/parley",
}


def _run(args: list[str], **overrides: str) -> subprocess.CompletedProcess:
    """Run Python in a fresh interpreter with only the given Parley settings in the environment."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DJANGO_SECRET_KEY",
            "DATABASE_URL",
            "REDIS_URL",
            "ELASTICSEARCH_URL",
            "CELERY_BROKER_URL",
            "PARLEY_ARCHIVE_SEARCH_BACKEND",
            "DJANGO_PRODUCTION",
        }
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", **overrides})
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "missing",
    ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ELASTICSEARCH_URL", "CELERY_BROKER_URL"],
)
def test_production_refuses_to_start_naming_the_missing_variable(missing):
    settings = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = _run(["-c", ENGINE], **settings)

    assert result.returncode != 0
    assert f"DJANGO_PRODUCTION=1 requires the environment variable {missing}" in result.stderr


def test_production_refuses_a_database_that_is_not_postgresql():
    result = _run(["-c", ENGINE], **{**PRODUCTION, "DATABASE_URL": "sqlite:////tmp/parley.sqlite3"})

    assert result.returncode != 0
    assert "requires DATABASE_URL to point at PostgreSQL" in result.stderr


def test_production_refuses_redis_as_the_celery_broker():
    result = _run(
        ["-c", ENGINE], **{**PRODUCTION, "CELERY_BROKER_URL": "redis://redis.internal:6379/1"}
    )

    assert result.returncode != 0
    assert "requires CELERY_BROKER_URL to point at RabbitMQ" in result.stderr


def test_production_starts_with_everything_set():
    result = _run(["-c", ENGINE], **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.db.backends.postgresql"


def test_embedded_defaults_use_sqlite_in_wal_mode(tmp_path):
    engine = _run(["-c", ENGINE], PARLEY_DATA_DIR=str(tmp_path))
    journal = _run(["-c", JOURNAL_MODE], PARLEY_DATA_DIR=str(tmp_path))

    assert engine.returncode == 0, engine.stderr
    assert engine.stdout.strip() == "django.db.backends.sqlite3"
    assert journal.stdout.strip() == "wal"


def test_production_deploy_check_is_clean():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **PRODUCTION,
        DJANGO_ALLOWED_HOSTS="chat.example.com",
    )

    assert result.returncode == 0, result.stdout + result.stderr


BACKEND = (
    "import django; django.setup(); from django.conf import settings; "
    "print(settings.PARLEY_ARCHIVE_SEARCH_BACKEND)"
)


def test_search_uses_the_embedded_tantivy_index_without_elasticsearch(tmp_path):
    result = _run(
        ["-c", BACKEND + "; print(settings.PARLEY_SEARCH_INDEX_DIR)"], PARLEY_DATA_DIR=str(tmp_path)
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tantivy", str(tmp_path / "search-index")]


def test_archive_search_uses_elasticsearch_when_its_url_is_set():
    result = _run(["-c", BACKEND], **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "elasticsearch"


def test_a_single_server_production_may_search_its_embedded_index_instead(tmp_path):
    settings = {k: v for k, v in PRODUCTION.items() if k != "ELASTICSEARCH_URL"}

    result = _run(
        ["-c", BACKEND + "; print(settings.PARLEY_SEARCH_INDEX_DIR)"],
        **settings,
        PARLEY_ARCHIVE_SEARCH_BACKEND="tantivy",
        PARLEY_SEARCH_INDEX_DIR=str(tmp_path / "index"),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["tantivy", str(tmp_path / "index")]


def test_archive_search_elasticsearch_without_url_refuses_to_start(tmp_path):
    result = _run(
        ["-c", BACKEND],
        PARLEY_DATA_DIR=str(tmp_path),
        PARLEY_ARCHIVE_SEARCH_BACKEND="elasticsearch",
    )

    assert result.returncode != 0
    assert "PARLEY_ARCHIVE_SEARCH_BACKEND=elasticsearch needs ELASTICSEARCH_URL" in result.stderr


SQLITE_PRAGMAS = (
    "import django; django.setup(); from django.db import connection; c = connection.cursor(); "
    "print(*(c.execute(f'PRAGMA {name}').fetchone()[0] for name in "
    "('journal_mode', 'busy_timeout')), connection.transaction_mode)"
)
# Two writers that each read, then write, inside a transaction (as every Parley service does):
# the second starts while the first holds its read snapshot. With deferred transactions one of
# them fails at once with "database is locked", whatever the busy timeout.
SQLITE_TWO_WRITERS = """
import threading
import django
django.setup()
from django.db import connection, transaction

with connection.cursor() as c:
    c.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER)")
first_has_read = threading.Event()
errors = []

def first():
    try:
        with transaction.atomic(), connection.cursor() as c:
            c.execute("SELECT count(*) FROM t")
            first_has_read.set()
            second_done.wait(timeout=2)  # IMMEDIATE: the second is blocked at BEGIN meanwhile
            c.execute("INSERT INTO t VALUES (1)")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        first_has_read.set()
        connection.close()

def second():
    first_has_read.wait()
    try:
        with transaction.atomic(), connection.cursor() as c:
            c.execute("SELECT count(*) FROM t")
            c.execute("INSERT INTO t VALUES (2)")
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        second_done.set()
        connection.close()

second_done = threading.Event()
threads = [threading.Thread(target=first), threading.Thread(target=second)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with connection.cursor() as c:
    c.execute("SELECT count(*) FROM t")
    print(errors, c.fetchone()[0])
"""


def test_a_sqlite_database_url_gets_the_embedded_sqlite_options(tmp_path):
    url = f"sqlite:///{tmp_path / 'chosen.sqlite3'}"

    result = _run(["-c", SQLITE_PRAGMAS], DATABASE_URL=url)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["wal", "10000", "IMMEDIATE"]


def test_two_writers_on_a_sqlite_database_url_both_commit(tmp_path):
    url = f"sqlite:///{tmp_path / 'chosen.sqlite3'}"

    result = _run(["-c", SQLITE_TWO_WRITERS], DATABASE_URL=url)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] 2"
