"""Kill the Celery worker in the middle of an evaluation batch: every message is judged once.

A real worker (PostgreSQL, RabbitMQ broker) runs the evaluation tasks capture queues, one per
batch of records. The test lets the first batch finish, then holds a lock on the evaluation
table so the worker is caught inside the next batch (records read, judgements being written),
SIGKILLs it there and starts another worker. RabbitMQ hands the unacknowledged tasks (the one
in flight and those prefetched) to the new worker; a batch delivered twice changes nothing.
"""

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from archiving.search import indexing
from archiving.services import capture
from supervision import services
from supervision.models import Outcome, ReviewItem, SupervisionEvaluation
from tests.e2e.conftest import _database_url, cluster_running

pytestmark = pytest.mark.e2e
RECORDS = 800
BATCH = 100
TIMEOUT = 60.0
TASK = "supervision.tasks.supervision_records_evaluate"


def _wait(what: str, condition, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.1)


def _evaluation_lock_waited_on(admin) -> bool:
    row = admin.execute(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = 'supervision_supervisionevaluation' AND NOT l.granted"
    ).fetchone()
    return row[0] > 0


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_batch_leaves_every_message_judged_exactly_once(
    make_person, make_reviewer, tmp_path, monkeypatch, settings
):
    alice, bob = make_person("alice"), make_person("bob")
    make_reviewer("sam")
    policy = services.policy_create(
        actor=alice,
        name="Desk",
        people=["alice"],
        reviewers=["sam"],
        lexicon=["quarterly"],
        sample_percent=20,
    )
    monkeypatch.setattr(indexing, "_index_run_queue", lambda: None)  # not under test here
    settings.PARLEY_CAPTURE_FOLLOW_UP_TASKS = []  # the test queues the batches itself
    start = datetime.now(UTC)
    records = [
        capture(
            conversation_id=1 + n % 3,
            conversation_kind="group",
            is_external=False,
            participant_ids=[alice.pk, bob.pk],
            event="message.posted",
            actor=bob if n % 4 == 0 else alice,
            occurred_at=start + timedelta(milliseconds=n),
            body=f"quarterly figures part {n}" if n % 10 == 0 else f"routine note {n}",
        )
        for n in range(RECORDS)
    ]
    ids = [r.pk for r in records]
    batches = [ids[i : i + BATCH] for i in range(0, RECORDS, BATCH)]
    supervised = {r.pk: r for r in records if r.actor_id == alice.pk}
    first_batch = [pk for pk in batches[0] if pk in supervised]

    with (
        cluster_running(tmp_path, server_names=()) as cluster,
        psycopg.connect(_database_url(), autocommit=False) as blocker,
        psycopg.connect(_database_url(), autocommit=True) as admin,
    ):
        cluster.task_send(TASK, args=[batches[0]])
        _wait(
            "the first batch is judged",
            lambda: SupervisionEvaluation.objects.count() == len(first_batch),
        )
        blocker.execute("LOCK TABLE supervision_supervisionevaluation IN SHARE MODE")
        for batch in batches[1:]:
            cluster.task_send(TASK, args=[batch])
        _wait("the worker is inside a batch", lambda: _evaluation_lock_waited_on(admin))
        cluster.worker.kill()
        blocker.rollback()  # the killed worker's transaction ends (rolled back)

        assert SupervisionEvaluation.objects.count() == len(first_batch)

        cluster.worker_start("celery-worker-after-kill")
        cluster.task_send(TASK, args=[batches[0]])  # a batch delivered twice
        _wait(
            "every supervised message is judged",
            lambda: SupervisionEvaluation.objects.count() == len(supervised),
        )
        cluster.wait_until_worker_idle()

    judged = list(SupervisionEvaluation.objects.values_list("record_id", "outcome"))
    assert sorted(pk for pk, _ in judged) == sorted(supervised)  # each once, no one else
    lexicon = services.lexicon_parse(policy.lexicon)
    expected = {
        pk: services.record_judge(
            lexicon=lexicon,
            seed=policy.seed,
            percent=policy.sample_percent,
            record_id=pk,
            body=record.body,
        ).outcome
        for pk, record in supervised.items()
    }
    assert dict(judged) == expected
    items = dict(ReviewItem.objects.values_list("record_id", "reason"))
    assert items == {pk: o for pk, o in expected.items() if o != Outcome.NONE}
    assert set(items.values()) == {"lexicon", "sample"}
