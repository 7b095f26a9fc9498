"""Supervision evaluation throughput: archive records judged per second by one worker process.

Creates a PostgreSQL database of its own, people in two departments, three supervision policies
(a 20-entry lexicon with a 5 % sample over one department; a 2 % sample of named people; a
lexicon over a group, internal only), and --records captured message records (bulk_create: the
evaluation reads records, never their hashes). Then it runs the evaluation exactly as the
Celery task does (supervision.services.records_evaluate), one call per batch of --batch record
ids (what capture queues after each group commit of the write path), in this process.

Reported: records/s (archive records judged per second, each under every policy that
supervises its sender), evaluations/s, items/s (review items created), CPU seconds of this
process, and the headroom over the write path's peak (records/s divided by --write-peak, 500
posts/s: each post is one record). A second pass re-runs every batch (a redelivery) and must
write nothing. The last line is one JSON object.

Run from the repository root (PostgreSQL on 127.0.0.1, user postgres, trust auth)::

    .venv/bin/python -m bench.supervision                 # 50,000 records, batches of 100
    .venv/bin/python -m bench.supervision --records 10000 --batch 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fanout import ROOT, admin_sql, log

LEXICON = [
    "guarantee",
    "guaranteed",
    '"inside info"',
    '"off the books"',
    "kickback*",
    "promise AND returns",
    '"delete this"',
    "whatsapp",
    "signal",
    '"call my cell"',
    "rebate*",
    '"no paper trail"',
    "front AND run*",
    '"between us"',
    "bribe*",
    '"cash only"',
    "(sure OR certain) AND profit",
    '"keep quiet"',
    "tip*",
    "secret",
]
FILLER = (
    "the price of the bond moved after the open we should review the book before lunch "
    "client asked about the allocation please confirm the trade ticket and settlement date "
    "risk limits look fine for today desk meeting moved to three"
)
WORDS = FILLER.split()
HOT = ["guarantee", "inside info", "whatsapp", "kickbacks", "between us", "secret"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.supervision", description=__doc__.split("\n")[0]
    )
    p.add_argument("--records", type=int, default=50_000, help="message records to judge")
    p.add_argument(
        "--batch", type=int, default=100, help="record ids per task (PARLEY_POST_BATCH_MAX)"
    )
    p.add_argument("--people", type=int, default=200)
    p.add_argument("--hit-percent", type=float, default=2.0, help="messages with a lexicon word")
    p.add_argument("--write-peak", type=float, default=500.0, help="write path posts/s to compare")
    p.add_argument("--db-name", default="parley_bench_supervision")
    p.add_argument("--keep-db", action="store_true")
    return p.parse_args(argv)


def setup(args: argparse.Namespace) -> list[int]:
    from django.contrib.auth.models import Group

    from archiving.models import ArchiveRecord
    from directory.models import Department, Person
    from supervision import services

    trading = Department.objects.create(name="Trading")
    research = Department.objects.create(name="Research")
    heads = Group.objects.create(name="Desk heads")
    supervisors = Group.objects.create(name="Supervision")
    people = Person.objects.bulk_create(
        Person(
            username=f"p{n}",
            display_name=f"Person {n}",
            department=trading if n % 2 else research,
        )
        for n in range(args.people)
    )
    heads.user_set.add(*people[: args.people // 10])
    reviewer = Person.objects.create(username="sam", display_name="Sam Reviewer")
    reviewer.groups.add(supervisors)
    services.policy_create(
        actor=reviewer,
        name="Trading desk",
        departments=["Trading"],
        reviewers=["sam"],
        lexicon=LEXICON,
        sample_percent=5,
    )
    services.policy_create(
        actor=reviewer,
        name="Named people",
        people=[p.username for p in people[:20]],
        reviewers=["sam"],
        sample_percent=2,
    )
    services.policy_create(
        actor=reviewer,
        name="Desk heads",
        groups=["Desk heads"],
        reviewers=["sam"],
        lexicon=LEXICON[:5],
        scope="internal",
    )
    rng = random.Random(7)
    start = datetime.now(UTC)
    records = []
    for n in range(args.records):
        words = rng.choices(WORDS, k=rng.randint(4, 18))
        if rng.random() * 100 < args.hit_percent:
            words.insert(rng.randrange(len(words) + 1), rng.choice(HOT))
        sender = people[rng.randrange(len(people))]
        records.append(
            ArchiveRecord(
                conversation_id=1 + n % 500,
                conversation_kind="group",
                is_external=n % 10 == 0,
                chain_index=n // 500,
                event="message.posted",
                message_id=n + 1,
                message_seq=n // 500 + 1,
                actor_id=sender.pk,
                actor_username=sender.username,
                body=" ".join(words),
                payload={},
                occurred_at=start + timedelta(milliseconds=n),
                prev_hash="0" * 64,
                record_hash="0" * 64,
            )
        )
    created = ArchiveRecord.objects.bulk_create(records, batch_size=5000)
    return [r.pk for r in created]


def evaluate_all(ids: list[int], batch: int) -> tuple[float, float, int, int]:
    from supervision import services

    evaluated = items = 0
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(0, len(ids), batch):
        done = services.records_evaluate(record_ids=ids[i : i + batch])
        evaluated += done.evaluated
        items += done.items
    return time.perf_counter() - t0, time.process_time() - cpu0, evaluated, items


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.db_name}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "PARLEY_TASKS_EAGER": "1",
    }
    admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{args.db_name}"')
    try:
        os.environ.update(env)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env=dict(os.environ),
            check=True,
            capture_output=True,
        )
        import django

        django.setup()
        from supervision.models import ReviewItem, SupervisionEvaluation

        t0 = time.perf_counter()
        ids = setup(args)
        log(f"archive: {len(ids)} message records in {time.perf_counter() - t0:.1f}s")
        seconds, cpu, evaluated, items = evaluate_all(ids, args.batch)
        replay_seconds, _, replay_evaluated, _ = evaluate_all(ids, args.batch)
        stored_evaluations = SupervisionEvaluation.objects.count()
        stored_items = ReviewItem.objects.count()
        load = os.getloadavg()[0]
        result = {
            "bench": "supervision",
            "records": len(ids),
            "batch": args.batch,
            "policies": 3,
            "evaluations": stored_evaluations,
            "items": stored_items,
            "seconds": round(seconds, 2),
            "records_per_s": round(len(ids) / seconds, 1),
            "evaluations_per_s": round(evaluated / seconds, 1),
            "items_per_s": round(items / seconds, 1),
            "cpu_seconds": round(cpu, 2),
            "records_per_cpu_s": round(len(ids) / cpu, 1),
            "write_peak_posts_per_s": args.write_peak,
            "headroom": round(len(ids) / seconds / args.write_peak, 2),
            "replay_seconds": round(replay_seconds, 2),
            "replay_wrote_nothing": stored_evaluations == evaluated
            and replay_evaluated == evaluated
            and SupervisionEvaluation.objects.count() == stored_evaluations,
            "load_average": round(load, 1),
            "cores": os.cpu_count(),
        }
        log("")
        log(
            f"judged {len(ids)} records in {seconds:.1f}s: {result['records_per_s']:.0f} "
            f"records/s, {result['evaluations_per_s']:.0f} evaluations/s, "
            f"{result['items_per_s']:.0f} items/s ({stored_items} items); CPU {cpu:.1f}s "
            f"({result['records_per_cpu_s']:.0f} records per CPU second)"
        )
        log(
            f"write path peak {args.write_peak:.0f} posts/s -> headroom x{result['headroom']} "
            f"with one worker process; replay of every batch {replay_seconds:.1f}s, "
            f"wrote nothing: {result['replay_wrote_nothing']}"
        )
        log(f"(load average while running: {load:.1f} on {os.cpu_count()} cores)")
        print(json.dumps(result), flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
