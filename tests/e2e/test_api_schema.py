"""The OpenAPI schema tells the truth: a schemathesis run with all its checks, zero failures.

Against a real uvicorn process on the test database rather than schemathesis' ASGI/WSGI
adapter: what clients meet is uvicorn's URL decoding, Django's production error pages (DEBUG
off) and the connection pool, and a request that crashes or hangs the server shows up as such.
An employee's and a compliance officer's runs go side by side (two `st` processes, each with
a server of its own, on one database) so the pair fits in CI; each is bounded by a fixed seed
and a few examples per operation. The checks, and the few places where one cannot apply, are
in schemathesis.toml.
"""

import os
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from chat import services as chat
from directory import services as directory
from tests.e2e.conftest import ROOT, VENV_BIN, cluster_running

HERE = Path(__file__).resolve().parent
MAX_EXAMPLES = int(os.environ.get("PARLEY_SCHEMATHESIS_EXAMPLES", "3"))
SEED = os.environ.get("PARLEY_SCHEMATHESIS_SEED", "20261202")
SPARE_TOKENS = 300  # DELETE /auth/token/ revokes one per call (see schemathesis_hooks.py)
RUN_TIMEOUT = 600


@pytest.fixture(scope="module")
def api_server(django_db_setup, tmp_path_factory):
    with cluster_running(
        tmp_path_factory.mktemp("schemathesis-logs"),
        with_worker=False,
        server_names=("api-employee", "api-officer"),
        extra_env={
            "DJANGO_DEBUG": "false",
            "PARLEY_CHANNEL_PREFIX": f"parley-schemathesis-{os.getpid()}",
        },
    ) as cluster:
        yield cluster


@pytest.fixture
def people(transactional_db, make_person):
    """An employee in a conversation with a message, and a compliance officer."""
    alice = make_person("alice", display_name="Alice Martin", email="alice@contoso.test")
    bob = make_person("bob", display_name="Bob Chen", email="bob@contoso.test")
    cora = make_person("cora", display_name="Cora Officer", email="cora@contoso.test")
    cora.groups.add(Group.objects.get_or_create(name="Compliance")[0])
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    chat.message_post(sender=alice, conversation_id=conversation.pk, body="hello", client_id="c1")
    return {"employee": alice, "officer": cora}


def _st_start(*, schema_url: str, person, log_path: Path) -> subprocess.Popen:
    _, token = directory.token_create(person=person)
    spares = [directory.token_create(person=person)[1] for _ in range(SPARE_TOKENS)]
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    env.update(
        SCHEMATHESIS_HOOKS="tests.e2e.schemathesis_hooks",
        PARLEY_ST_SPARE_TOKENS=",".join(spares),
        PYTHONPATH=str(ROOT),
        NO_COLOR="1",
    )
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                str(VENV_BIN / "st"),
                "--config-file",
                str(HERE / "schemathesis.toml"),
                "run",
                schema_url,
                "--header",
                f"Authorization: Bearer {token}",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                SEED,
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--continue-on-failure",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


@pytest.mark.django_db(transaction=True)
def test_every_answer_matches_the_schema_for_an_employee_and_an_officer(
    api_server, people, tmp_path
):
    servers = dict(zip(people, api_server.servers, strict=True))
    runs = {
        role: _st_start(
            schema_url=f"{servers[role].http_url}/api/schema/?format=json",
            person=person,
            log_path=tmp_path / f"schemathesis-{role}.log",
        )
        for role, person in people.items()
    }
    try:
        codes = {role: run.wait(timeout=RUN_TIMEOUT) for role, run in runs.items()}
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
                run.wait()

    reports = {
        role: (tmp_path / f"schemathesis-{role}.log").read_text(errors="replace")[-30_000:]
        for role in runs
    }
    failed = {role: code for role, code in codes.items() if code != 0}
    assert not failed, "\n".join(
        f"===== {role} (exit {code}; server log {servers[role].log_path}) =====\n{reports[role]}"
        for role, code in failed.items()
    )
