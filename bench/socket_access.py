"""What keeping sockets' credentials valid costs (directory/socket_access.py).

Measured in one process on a fresh PostgreSQL database, through database_sync_to_async as the
/ws/ consumer calls it:

- an empty thread hop, for comparison (the part of a check that sharing the frame's own hop
  would save);
- the check that precedes every frame that reads or writes data (a token socket: one query on
  the token joined to its person; a session socket: one query on the person), per check;
- for scale, one `message.send`'s service call (chat.services.message_post, with its archive
  capture and in-process after-commit work), per post;
- one access sweep of a process holding S sockets of S people on S tokens (two queries and
  the touch of tokens in use), per sweep.

Run from the repository root (PostgreSQL on 127.0.0.1 as `postgres`)::

    .venv/bin/python -m bench.socket_access --quick
    .venv/bin/python -m bench.socket_access --checks 5000 --sockets 5000

The last line of the output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.socket_access", description=__doc__)
    p.add_argument("--db-name", default="parley_bench_access", help="created and dropped")
    p.add_argument("--checks", type=int, default=2000, help="per-frame checks timed")
    p.add_argument("--posts", type=int, default=300, help="message posts timed, for scale")
    p.add_argument("--sockets", type=int, default=1000, help="sockets in the swept process")
    p.add_argument("--sweeps", type=int, default=20, help="sweeps timed")
    p.add_argument("--quick", action="store_true", help="a short run (300 checks, 60 posts...)")
    args = p.parse_args(argv)
    if args.quick:
        args.checks, args.posts, args.sockets, args.sweeps = 300, 60, 200, 10
    return args


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def percentiles_us(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_us": round(statistics.median(ordered) * 1e6, 1), "p99_us": round(p99 * 1e6, 1)}


async def timed(call, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def measure(args: argparse.Namespace) -> dict:
    from channels.db import database_sync_to_async

    from chat import services as chat
    from directory import selectors, services, socket_access
    from directory.models import Person

    def setup():
        alice = services.person_create(username="alice", password=None)
        bob = services.person_create(username="bob", password=None)
        token, _ = services.token_create(person=alice)
        conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
        people = Person.objects.bulk_create(
            Person(username=f"p{i}", password="!") for i in range(args.sockets)
        )
        tokens = [services.token_create(person=person)[0] for person in people]
        return alice, token, conversation, people, tokens

    alice, token, conversation, people, tokens = await database_sync_to_async(setup)()

    check = database_sync_to_async(selectors.socket_access_ended)
    await timed(lambda: check(person_id=alice.pk, token_id=token.pk), 50)  # warm up
    token_checks = await timed(lambda: check(person_id=alice.pk, token_id=token.pk), args.checks)
    # The thread hop alone (the consumer's database thread, connection handling included):
    # what the check would cost less if it shared the hop of the frame's own service call.
    hops = await timed(lambda: database_sync_to_async(lambda: None)(), args.checks)
    session_checks = await timed(lambda: check(person_id=alice.pk, token_id=None), args.checks)

    counter = iter(range(10**9))

    def post():
        n = next(counter)
        return chat.message_post(
            sender=alice, conversation_id=conversation.pk, body=f"m{n}", client_id=f"c{n}"
        )

    posts = await timed(lambda: database_sync_to_async(post)(), args.posts)

    class BenchSocket(socket_access.SocketAccessMixin):
        def __init__(self, person_id: int, token_id: int) -> None:
            self.person_id, self.token_id = person_id, token_id

        async def close_for(self, code: int, reason: str) -> None:
            raise AssertionError("no socket here should be closed")

    class BenchHub:
        by_person = {
            person.pk: {BenchSocket(person.pk, token.pk)}
            for person, token in zip(people, tokens, strict=True)
        }

    sweeps = await timed(lambda: socket_access.sockets_sweep(BenchHub()), args.sweeps)

    token_check = percentiles_us(token_checks)
    post_cost = percentiles_us(posts)
    return {
        "bench": "socket_access",
        "checks": args.checks,
        "check_token": token_check,
        "check_session": percentiles_us(session_checks),
        "empty_thread_hop": percentiles_us(hops),
        "posts": args.posts,
        "message_post": post_cost,
        "check_share_of_post_p50": round(token_check["p50_us"] / post_cost["p50_us"], 3),
        "sockets": args.sockets,
        "sweep_ms_p50": round(statistics.median(sweeps) * 1e3, 1),
        "sweep_ms_max": round(max(sweeps) * 1e3, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    database_url = f"postgres://postgres@127.0.0.1:5432/{args.db_name}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
    }
    env.pop("REDIS_URL", None)  # in-memory layer: the figures are the database's and ours
    admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}"')
    admin_sql(f'CREATE DATABASE "{args.db_name}"')
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")})
        os.environ["DJANGO_DEBUG"] = "0"
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        result = asyncio.run(measure(args))
        from django.db import connections

        connections.close_all()
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    print(
        f"per-frame check: token p50 {result['check_token']['p50_us']} us, "
        f"p99 {result['check_token']['p99_us']} us; session p50 "
        f"{result['check_session']['p50_us']} us; empty thread hop p50 "
        f"{result['empty_thread_hop']['p50_us']} us; message_post p50 "
        f"{result['message_post']['p50_us']} us (check = {result['check_share_of_post_p50']:.1%} "
        f"of a post); sweep of {result['sockets']} sockets p50 {result['sweep_ms_p50']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
