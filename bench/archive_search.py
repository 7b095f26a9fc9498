"""Compliance archive search benchmark: every backend side by side on the same corpus and queries.

Generates archived messages (people, direct/group/room conversations with busy rooms, a
Zipf-like vocabulary with a few real common words, rare words, some Chinese and Japanese),
loads them as ArchiveRecords with real hash chains (COPY on PostgreSQL, executemany on
SQLite), indexes them through the real outbox path (search_index_pending) and times
searches through each backend (the database's own full-text index, and the embedded tantivy
index over the same database), with the bare tantivy engine (no archive row reads) as the
reference. Each database runs in a child process of its own (Django reads DATABASE_URL once).
Corpora and indexes are kept in --data-dir between runs: a second run only queries.

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


CLASSES = (
    "common word",
    "phrase",
    "word + participant + 30 days",
    "rare word",
    "common word + facets",
)


def _query_plan(args, plan, messages, counts, ids) -> list[dict]:
    """Return the queries every backend runs: per class, text and scope, the same for all."""
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
    end = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=365)
    groups = [c for c in plan if c[1] != "direct"]
    queries = []
    for _ in range(args.queries):
        _, _, members = rng.choice(groups)
        start = end - timedelta(days=rng.randint(30, 300))
        queries.extend(
            [
                {"class": "common word", "text": rng.choice(frequent)},
                {"class": "phrase", "text": rng.choice(bigrams)},
                {
                    "class": "word + participant + 30 days",
                    "text": rng.choice(medium),
                    "participant": ids[rng.choice(members)],
                    "start": start.isoformat(),
                    "end": (start + timedelta(days=30)).isoformat(),
                },
                {"class": "rare word", "text": rng.choice(rare)},
                {"class": "common word + facets", "text": rng.choice(frequent), "facets": True},
            ]
        )
    return queries


def _load(args, plan, messages) -> None:
    """Write people, memberships and archive records (real hash chains) to the database."""
    from django.db import connection, transaction

    from archiving.chain import canonical, link_hash
    from archiving.models import GENESIS_HASH, ArchiveMembership
    from directory.models import Person

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
        if connection.vendor == "postgresql":
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


def _index(args, backend_name: str) -> float:
    """Queue every record and index it through the real outbox path; return seconds."""
    from django.conf import settings
    from django.db import connection

    from archiving.models import ArchiveSearchEntry
    from archiving.search.backend import backend_get, backend_reset
    from archiving.search.indexing import search_index_pending

    settings.PARLEY_ARCHIVE_SEARCH_BACKEND = backend_name
    backend_reset()
    # Nothing counts as indexed any more: a new tantivy folder then needs no rebuild of its own
    # (its identity check rebuilds only a folder the database believes filled).
    ArchiveSearchEntry.objects.all().delete()
    backend = backend_get()
    backend.ensure_setup()
    backend.clear()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM archiving_archiveindexoutbox")
        cursor.execute(
            "INSERT INTO archiving_archiveindexoutbox (record_id, operation, created_at, "
            "parked_reason) SELECT id, 'index', %s, '' FROM archiving_archiverecord",
            [datetime.now(tz=UTC)],
        )
    began = time.perf_counter()
    indexed = search_index_pending(batch=args.batch)
    seconds = time.perf_counter() - began
    if indexed != args.size:
        raise SystemExit(f"{backend_name}: indexed {indexed} of {args.size} records")
    if connection.vendor == "postgresql" and backend_name == "database":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE archiving_search_vector")
            cursor.execute("VACUUM ANALYZE archiving_archiverecord")
    return seconds


def _request(query: dict):
    from archiving.search.query import query_parse
    from archiving.search.types import Scope, SearchRequest

    scope = Scope()
    if "participant" in query:
        scope = Scope(
            participant_ids=(query["participant"],),
            start=datetime.fromisoformat(query["start"]),
            end=datetime.fromisoformat(query["end"]),
        )
    return SearchRequest(
        node=query_parse(query["text"]),
        scope=scope,
        page_size=50,
        with_facets=bool(query.get("facets")),
    )


def _engine_only(backend, request) -> int:
    """Run what the tantivy engine does for a search, without reading the page's rows."""
    index = backend.index_handle
    index.reload()
    searcher = index.searcher()
    matching = backend._query(request.node, backend.scope_queries(request.scope))
    total = searcher.search(matching, limit=1, count=True).count
    backend._page_keys(searcher, matching, request.page_size + 1)
    if request.with_facets:
        backend.facets(searcher, matching)
    return total


def _measure(queries: list[dict], run_one) -> dict:
    timings: dict[str, list[float]] = {name: [] for name in CLASSES}
    totals: dict[str, list[int]] = {name: [] for name in CLASSES}
    for query in queries:
        request = _request(query)
        began = time.perf_counter()
        total = run_one(request)
        timings[query["class"]].append((time.perf_counter() - began) * 1000)
        totals[query["class"]].append(total)
    return {
        name: {
            "p50_ms": round(_percentile(timings[name], 0.5), 2),
            "p95_ms": round(_percentile(timings[name], 0.95), 2),
            "mean_hits": round(statistics.mean(totals[name]), 1),
        }
        for name in CLASSES
        if timings[name]
    }


def child(args) -> None:
    """Load (once, cached), index (once per backend, cached) and query; print one JSON line."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from archiving.models import ArchiveRecord
    from archiving.search.backend import backend_get, backend_reset
    from directory.models import Person

    call_command("migrate", verbosity=0)
    vendor = connection.vendor
    folder = Path(os.environ["PARLEY_BENCH_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    queries_file = folder / "queries.json"
    info: dict = {"database": vendor, "records": args.size, "backends": {}, "indexing": {}}
    if ArchiveRecord.objects.count() == args.size and queries_file.exists():
        info["load_s"] = None  # cached from an earlier run
    else:
        ArchiveRecord.objects.all().delete()
        Person.objects.all().delete()
        for marker in folder.glob("indexed-*"):
            marker.unlink()
        began = time.perf_counter()
        plan, messages, counts, _ = generate(
            size=args.size, people=args.people, conversations=args.conversations
        )
        _load(args, plan, messages)
        ids = dict(Person.objects.values_list("username", "pk"))
        queries = _query_plan(
            args, plan, messages, counts, [ids[f"user{i}"] for i in range(args.people)]
        )
        queries_file.write_text(json.dumps(queries))
        info["load_s"] = round(time.perf_counter() - began, 1)
        del plan, messages, counts
    queries = json.loads(queries_file.read_text())[: args.queries * len(CLASSES)]
    settings.PARLEY_SEARCH_INDEX_DIR = folder / "tantivy"
    for backend_name in args.backends.split(","):
        marker = folder / f"indexed-{backend_name}"
        if not marker.exists():
            seconds = _index(args, backend_name)
            marker.write_text(json.dumps({"seconds": seconds}))
        seconds = json.loads(marker.read_text())["seconds"]
        info["indexing"][backend_name] = round(args.size / seconds)
        settings.PARLEY_ARCHIVE_SEARCH_BACKEND = backend_name
        backend_reset()
        backend = backend_get()
        label = vendor if backend_name == "database" else f"{backend_name}+{vendor}"
        _measure(queries[: len(CLASSES) * 2], lambda r, b=backend: b.search(r).total)  # warm up
        info["backends"][label] = _measure(queries, lambda r, b=backend: b.search(r).total)
        if backend_name == "tantivy":
            info["backends"]["tantivy engine (reference)"] = _measure(
                queries, lambda r, b=backend: _engine_only(b, r)
            )
    print(json.dumps(info))


def run(args, database: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PARLEY_TASKS_EAGER"] = "1"
    folder = Path(args.data_dir) / f"{args.size}" / database
    env["PARLEY_BENCH_FOLDER"] = str(folder)
    if database == "postgresql":
        import psycopg

        name = f"parley_bench_search_{args.size}"
        base = args.postgres_url.rstrip("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            if args.fresh:
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            if not exists:
                admin.execute(f"CREATE DATABASE {name}")
                for marker in folder.glob("*"):
                    if marker.is_file():
                        marker.unlink()
        env["DATABASE_URL"] = f"{base}/{name}"
        env["DATABASE_POOL"] = "0"
    else:
        if args.fresh and folder.exists():
            import shutil

            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        env["PARLEY_DATA_DIR"] = str(folder)
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


def report(size: int, results: list[dict]) -> dict:
    backends: dict[str, dict] = {}
    for result in results:
        load = "cached" if result["load_s"] is None else f"{result['load_s']} s"
        indexing = ", ".join(f"{name} {rate:,}/s" for name, rate in result["indexing"].items())
        print(f"{result['database']}: {size:,} records; load {load}; indexing {indexing}")
        backends.update(result["backends"])
    names = list(backends)
    print(f"\n{'p50 / p95 ms':30}" + "".join(f"{name:>28}" for name in names))
    for name in CLASSES:
        cells = []
        for backend in names:
            figures = backends[backend].get(name)
            cells.append(f"{figures['p50_ms']} / {figures['p95_ms']}" if figures else "-")
        print(f"{name:30}" + "".join(f"{cell:>28}" for cell in cells))
    print(
        f"{'mean hits':30}"
        + "".join(f"{backends[b]['common word']['mean_hits']:>28,}" for b in names)
    )
    return {
        name: {cls: {k: v[k] for k in ("p50_ms", "p95_ms")} for cls, v in figures.items()}
        for name, figures in backends.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="archived messages")
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--conversations", type=int, default=5_000)
    parser.add_argument("--queries", type=int, default=40, help="queries per class")
    parser.add_argument("--batch", type=int, default=2_000, help="indexing batch size")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--backends", default="database,tantivy", help="comma-separated: database,tantivy"
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("PARLEY_BENCH_DATA", "/work/benchdata/archive_search"),
        help="where corpora and indexes are kept between runs (outside git)",
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached corpus")
    parser.add_argument("--postgres-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    results = [
        run(args, database) for database in ([args.only] if args.only else ["sqlite", "postgresql"])
    ]
    backends = report(args.size, results)
    print(json.dumps({"bench": "archive_search", "size": args.size, "backends": backends}))


if __name__ == "__main__":
    main()
