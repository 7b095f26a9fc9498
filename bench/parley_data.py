"""Bench data for Parley: people, rooms and tokens (``setup``), stored counts (``verify``).

Runs inside Django with the bench environment (DATABASE_URL pointing at the bench database),
started by bench/fanout.py as ``python -m bench.parley_data setup|verify ...``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import django


def setup(args: argparse.Namespace) -> None:
    """Create C people, the big room and/or the small rooms, and one API token each."""
    from django.contrib.auth.hashers import make_password

    from chat.services import room_create
    from directory.models import Person
    from directory.services import token_create

    t0 = time.monotonic()
    # One hash shared by everyone: hashing 1,000 passwords would take minutes and measure
    # nothing, and the bench signs in with tokens anyway.
    password = make_password("bench-password")
    width = max(4, len(str(args.clients - 1)))
    people = Person.objects.bulk_create(
        [
            Person(username=f"bench{i:0{width}d}", display_name=f"Bench {i}", password=password)
            for i in range(args.clients)
        ],
        batch_size=1000,
    )
    t1 = time.monotonic()
    # Rooms go through the room service, as in production: creator as manager, the members'
    # wall check, the archived conversation.created event.
    big_id = 0
    if args.rooms in ("big", "both"):
        members = people[: args.big_size or len(people)]
        big_id = room_create(creator=people[0], title="bench big room", members=members).pk
    small_ids: list[int] = []
    if args.rooms in ("small", "both"):
        groups = [people[i : i + args.room_size] for i in range(0, len(people), args.room_size)]
        small_ids = [
            room_create(creator=g[0], title=f"bench room {j}", members=g).pk
            for j, g in enumerate(groups)
        ]
    t2 = time.monotonic()
    tokens = [token_create(person=p, label="bench")[1] for p in people]
    t3 = time.monotonic()
    Path(args.out).write_text(json.dumps({"tokens": tokens, "big": big_id, "small": small_ids}))
    print(
        f"{len(people)} people {t1 - t0:.2f}s (incl. one make_password), "
        f"rooms and participants {t2 - t1:.2f}s, "
        f"{len(tokens)} token_create() calls {t3 - t2:.2f}s"
    )


def verify(_args: argparse.Namespace) -> None:
    """Print stored messages and archived message.posted records as one JSON line."""
    from archiving.models import ArchiveEvent, ArchiveRecord
    from chat.models import Message

    event = ArchiveEvent.MESSAGE_POSTED
    counts = {
        "messages": Message.objects.count(),
        "archived": ArchiveRecord.objects.filter(event=event).count(),
        "event": str(event.value),
    }
    print(json.dumps(counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_setup = sub.add_parser("setup")
    p_setup.add_argument("--clients", type=int, required=True)
    p_setup.add_argument("--room-size", type=int, default=10)
    p_setup.add_argument("--rooms", choices=["big", "small", "both"], default="both")
    p_setup.add_argument("--big-size", type=int, help="big room members (default: everyone)")
    p_setup.add_argument("--out", required=True)
    sub.add_parser("verify")
    args = parser.parse_args()
    django.setup()
    {"setup": setup, "verify": verify}[args.command](args)


if __name__ == "__main__":
    main()
