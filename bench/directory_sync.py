"""Directory sync: how long a sync of N people and G groups takes against a real OpenLDAP.

Starts slapd on loopback (the test helper's generated config), loads --people entries and
--groups groups (each with --members members) with ldapadd, creates a PostgreSQL database of
its own, and times: one full read of the directory, the first sync (creates everyone), a sync
with nothing new, and a sync after --changed people got a new title and department. Ends with
one JSON line.

Run from the repository root (PostgreSQL on 127.0.0.1, slapd and ldapadd installed)::

    .venv/bin/python -m bench.directory_sync            # 5,000 people, 100 groups
    .venv/bin/python -m bench.directory_sync --quick    # 500 people, 20 groups
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fanout import ROOT, admin_sql, log


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.directory_sync")
    p.add_argument("--people", type=int, default=5000)
    p.add_argument("--groups", type=int, default=100)
    p.add_argument("--members", type=int, default=50, help="members per group")
    p.add_argument("--changed", type=int, default=100, help="people changed before sync 3")
    p.add_argument("--quick", action="store_true", help="500 people, 20 groups, 50 changed")
    p.add_argument("--db-name", default="parley_bench_directory")
    args = p.parse_args(argv)
    if args.quick:
        args.people, args.groups, args.changed = 500, 20, 50
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from tests.directory import slapd

    server = slapd.slapd_start()
    admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{args.db_name}"')
    try:
        people = [
            slapd.person_ldif(
                f"p{i:05d}",
                name=f"Person {i:05d}",
                password="bench-password",
                mail=f"p{i:05d}@bank.test",
                title="Analyst",
                ou=f"Dept {i % 20}",
                company="Bank",
                phone=f"+44 20 {i:05d}",
            )
            for i in range(args.people)
        ]
        groups = [
            slapd.group_ldif(
                f"g{g:03d}",
                [f"p{(g * args.members + k) % args.people:05d}" for k in range(args.members)],
            )
            for g in range(args.groups)
        ]
        t0 = time.perf_counter()
        server.add("\n".join(people + groups))
        loaded_s = time.perf_counter() - t0
        log(f"ldapadd: {args.people} people, {args.groups} groups in {loaded_s:.1f}s")
        env = {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{args.db_name}",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0",
            "PARLEY_TASKS_EAGER": "1",
            "PARLEY_MEDIA_ROOT": str(server.dir / "media"),
            "PARLEY_LDAP_URL": server.url,
            "PARLEY_LDAP_BIND_DN": slapd.ROOT_DN,
            "PARLEY_LDAP_BIND_PASSWORD": slapd.ROOT_PASSWORD,
            "PARLEY_LDAP_USER_BASE_DN": slapd.PEOPLE,
            "PARLEY_LDAP_GROUP_BASE_DN": slapd.GROUPS,
        }
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
        import ldap3

        from directory.integrations import ldap
        from directory.sync import directory_sync

        def timed(function):
            start = time.perf_counter()
            result = function()
            return result, time.perf_counter() - start

        snapshot, read_s = timed(ldap.directory_read)
        first, first_s = timed(directory_sync)
        noop, noop_s = timed(directory_sync)
        with ldap3.Connection(
            server.url, user=slapd.ROOT_DN, password=slapd.ROOT_PASSWORD, auto_bind=True
        ) as connection:
            for i in range(args.changed):
                connection.modify(
                    f"uid=p{i:05d},{slapd.PEOPLE}",
                    {
                        "title": [(ldap3.MODIFY_REPLACE, ["Senior Analyst"])],
                        "ou": [(ldap3.MODIFY_REPLACE, ["Trading"])],
                    },
                )
        update, update_s = timed(directory_sync)
        result = {
            "bench": "directory_sync",
            "people": len(snapshot.people),
            "groups": len(snapshot.groups),
            "read_seconds": round(read_s, 2),
            "first_sync_seconds": round(first_s, 2),
            "first_sync_changes": len(first.changes),
            "noop_sync_seconds": round(noop_s, 2),
            "noop_sync_changes": len(noop.changes),
            "update_sync_seconds": round(update_s, 2),
            "update_sync_changes": len(update.changes),
            "load_average": round(os.getloadavg()[0], 1),
            "cores": os.cpu_count(),
        }
        print(json.dumps(result))
    finally:
        from django.db import connections

        connections.close_all()
        server.stop()
        admin_sql(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
