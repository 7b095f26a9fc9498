"""Compliance archive search benchmark: the database backend on SQLite and on PostgreSQL.

Generates archived messages (people, direct/group/room conversations with busy rooms, a
Zipf-like vocabulary with a few real common words, rare words, some Chinese and Japanese),
loads them as ArchiveRecords with real hash chains (COPY on PostgreSQL, executemany on
SQLite), indexes them through the real outbox path (search_index_pending) and times
searches through the backend. Each database runs in a child process of its own (Django reads
DATABASE_URL once).

    .venv/bin/python -m bench.archive_search                     # 100k records, both databases
    .venv/bin/python -m bench.archive_search --size 1000000 --only postgresql
    .venv/bin/python -m bench.archive_search --help
"""

import argparse
import bisect
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMON = (  # noqa: SIM905 - a sentence of words reads better than a list of strings
    "the to and a of i you is it for in that on we this be can with have are will at "
    "so not do just but if meeting please team call today thanks report client deal"
).split()
CJK = [
    "明天的会议纪要已经发出",
    "请确认合同条款",
    "季度报告需要更新",
    "打ち合わせは明日です",
    "資料を送ってください",
]
RARE_SHARE = 0.002
SYLLABLES = "ka ri to mo na shi en or al ve ex pro tra ni lu ba de so fi gu zo mer qua ten".split()  # noqa: SIM905


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    words = list(COMMON)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def generate(*, size: int, people: int, conversations: int, seed: int = 7):
    """Yield the corpus plan: conversations with members, and messages in time order."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng, 40_000)
    weights = [1 / (rank**1.05) for rank in range(1, len(vocabulary) + 1)]
    cumulative = list(_accumulate(weights))
    plan = []
    for number in range(conversations):
        roll = rng.random()
        if roll < 0.6:
            kind, count = "direct", 2
        elif roll < 0.9:
            kind, count = "group", rng.randint(3, 8)
        else:
            kind, count = "room", rng.randint(10, 200)
        members = rng.sample(range(people), count)
        plan.append((number + 1, kind, members))
    conversation_weights = list(
        _accumulate(
            (20.0 if kind == "room" else 1.0) / (1 + i % 50) for i, (_, kind, _) in enumerate(plan)
        )
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)
    step = timedelta(days=365) / size
    counts: Counter = Counter()
    messages = []
    for n in range(size):
        conversation = plan[_pick(rng, conversation_weights)]
        sender = rng.choice(conversation[2])
        length = rng.randint(4, 22)
        words = [vocabulary[_pick(rng, cumulative)] for _ in range(length)]
        counts.update(words)
        body = " ".join(words).capitalize() + rng.choice([".", "?", "!", ""])
        if rng.random() < 0.01:
            body += " " + rng.choice(CJK)
        if rng.random() < RARE_SHARE:  # a project code name, a ticket: words seen a few times
            code = f"zq{rng.randrange(max(1, int(size * RARE_SHARE / 2))):x}"
            body += " " + code
            counts[code] += 1
        messages.append((conversation, sender, body, start + step * n))
    return plan, messages, counts, vocabulary


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    return min(bisect.bisect(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def child(args) -> None:
    """Load, index and query in this process's database; print one JSON line of results."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from archiving.chain import canonical, link_hash
    from archiving.models import GENESIS_HASH, ArchiveIndexOutbox, ArchiveMembership
    from archiving.search.database import DatabaseBackend
    from archiving.search.indexing import search_index_pending
    from archiving.search.query import query_parse
    from archiving.search.types import Scope, SearchRequest
    from directory.models import Person

    call_command("migrate", verbosity=0)
    vendor = connection.vendor
    began = time.perf_counter()
    plan, messages, counts, _ = generate(
        size=args.size, people=args.people, conversations=args.conversations
    )
    generated = time.perf_counter() - began

    began = time.perf_counter()
    Person.objects.bulk_create(
        [Person(username=f"user{i}", display_name=f"User {i}") for i in range(args.people)],
        batch_size=2000,
    )
    person_ids = dict(Person.objects.values_list("username", "pk"))
    ids = [person_ids[f"user{i}"] for i in range(args.people)]
    ArchiveMembership.objects.bulk_create(
        [
            ArchiveMembership(
                conversation_id=cid, person_id=ids[m], username=f"user{m}", from_index=0
            )
            for cid, _, members in plan
            for m in members
        ],
        batch_size=5000,
    )
    heads: dict[int, tuple[int, str]] = {}
    columns = [
        *("conversation_id", "conversation_kind", "is_external", "chain_index", "event"),
        *("message_id", "message_seq", "actor_id", "actor_username", "body", "payload"),
        *("occurred_at", "recorded_at", "prev_hash", "record_hash"),
    ]
    now = datetime.now(tz=UTC)

    def rows():
        for number, ((cid, kind, _), sender, body, at) in enumerate(messages, start=1):
            index, prev = heads.get(cid, (0, GENESIS_HASH))
            fields = {
                "conversation_id": cid,
                "conversation_kind": kind,
                "is_external": False,
                "chain_index": index,
                "event": "message.posted",
                "message_id": number,
                "message_seq": index + 1,
                "actor_id": ids[sender],
                "actor_username": f"user{sender}",
                "body": body,
                "payload": {},
                "occurred_at": at,
            }
            digest = link_hash(prev, canonical(**fields))
            heads[cid] = (index + 1, digest)
            yield (*list(fields.values())[:10], "{}", at, now, prev, digest)

    with transaction.atomic(), connection.cursor() as cursor:
        if vendor == "postgresql":
            with cursor.cursor.copy(
                f"COPY archiving_archiverecord ({', '.join(columns)}) FROM STDIN"
            ) as copy:
                for row in rows():
                    copy.write_row(row)
        else:
            cursor.executemany(
                f"INSERT INTO archiving_archiverecord ({', '.join(columns)}) "  # noqa: S608
                f"VALUES ({', '.join(['%s'] * len(columns))})",
                rows(),
            )
        cursor.execute(
            "INSERT INTO archiving_archiveindexoutbox (record_id, operation, created_at) "
            "SELECT id, 'index', %s FROM archiving_archiverecord",
            [now],
        )
    loaded = time.perf_counter() - began
    if ArchiveIndexOutbox.objects.count() != args.size:
        raise SystemExit("the outbox does not hold every record")

    began = time.perf_counter()
    indexed = search_index_pending(batch=args.batch)
    indexing = time.perf_counter() - began
    if indexed != args.size:
        raise SystemExit(f"indexed {indexed} of {args.size} records")
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE archiving_search_vector")
            cursor.execute("VACUUM ANALYZE archiving_archiverecord")

    rng = random.Random(11)
    frequent = [w for w, _ in counts.most_common(40)[5:30]]
    medium = [w for w, _ in counts.most_common(500)[50:500]]
    rare = [w for w, c in counts.items() if 1 <= c <= 5] or medium
    bigrams = []
    for _, _, body, _ in rng.sample(messages, min(len(messages), 2000)):
        words = body.rstrip(".?!").lower().split()
        if len(words) > 3:
            i = rng.randrange(len(words) - 1)
            bigrams.append(f'"{words[i]} {words[i + 1]}"')
    backend = DatabaseBackend()
    end = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=365)

    def scoped() -> tuple[str, Scope]:
        _, _, members = rng.choice([c for c in plan if c[1] != "direct"])
        start = end - timedelta(days=rng.randint(30, 300))
        return rng.choice(medium), Scope(
            participant_ids=(ids[rng.choice(members)],),
            start=start,
            end=start + timedelta(days=30),
        )

    classes = {
        "common word": lambda: (rng.choice(frequent), Scope()),
        "phrase": lambda: (rng.choice(bigrams), Scope()),
        "word + participant + 30 days": scoped,
        "rare word": lambda: (rng.choice(rare), Scope()),
    }
    results = {}
    for name, make in classes.items():
        timings, totals = [], []
        for _ in range(args.queries):
            text, scope = make()
            request = SearchRequest(
                node=query_parse(text), scope=scope, page_size=50, with_facets=False
            )
            began = time.perf_counter()
            result = backend.search(request)
            timings.append((time.perf_counter() - began) * 1000)
            totals.append(result.total)
        results[name] = {
            "p50_ms": round(_percentile(timings, 0.5), 2),
            "p95_ms": round(_percentile(timings, 0.95), 2),
            "mean_hits": round(statistics.mean(totals), 1),
        }
    timings = []
    for _ in range(max(5, args.queries // 5)):
        request = SearchRequest(node=query_parse(rng.choice(frequent)), page_size=50)
        began = time.perf_counter()
        backend.search(request)
        timings.append((time.perf_counter() - began) * 1000)
    results["common word + facets"] = {
        "p50_ms": round(_percentile(timings, 0.5), 2),
        "p95_ms": round(_percentile(timings, 0.95), 2),
        "mean_hits": None,
    }
    print(
        json.dumps(
            {
                "database": vendor,
                "records": args.size,
                "generate_s": round(generated, 1),
                "load_s": round(loaded, 1),
                "load_per_s": round(args.size / loaded),
                "index_s": round(indexing, 1),
                "index_per_s": round(args.size / indexing),
                "queries": results,
            }
        )
    )


def run(args, database: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PARLEY_TASKS_EAGER"] = "1"
    cleanup = None
    if database == "postgresql":
        import psycopg

        name = f"parley_bench_search_{os.getpid()}"
        base = args.postgres_url.rstrip("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        env["DATABASE_URL"] = f"{base}/{name}"
        env["DATABASE_POOL"] = "0"

        def cleanup():
            with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    else:
        folder = tempfile.mkdtemp(prefix="parley-bench-search-")
        env["PARLEY_DATA_DIR"] = folder

        def cleanup():
            for path in Path(folder).iterdir():
                path.unlink()
            Path(folder).rmdir()

    try:
        result = subprocess.run(
            [sys.executable, "-m", "bench.archive_search", "--child", *sys.argv[1:]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"{database} run failed:\n{result.stderr[-4000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        cleanup()


def report(result: dict) -> None:
    print(
        f"\n{result['database']}: {result['records']:,} records; load {result['load_s']} s "
        f"({result['load_per_s']:,}/s), index {result['index_s']} s "
        f"({result['index_per_s']:,} records/s)"
    )
    print(f"  {'query':32} {'p50 ms':>9} {'p95 ms':>9} {'mean hits':>11}")
    for name, figures in result["queries"].items():
        hits = "" if figures["mean_hits"] is None else f"{figures['mean_hits']:,}"
        print(f"  {name:32} {figures['p50_ms']:>9} {figures['p95_ms']:>9} {hits:>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="archived messages")
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--conversations", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=40, help="queries per class")
    parser.add_argument("--batch", type=int, default=2_000, help="indexing batch size")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    for database in [args.only] if args.only else ["sqlite", "postgresql"]:
        report(run(args, database))


if __name__ == "__main__":
    main()
