"""Bench data for bench/write.py: people and conversations (``setup``), the database check
(``verify``) and the statements one post costs (``statements``).

Runs inside Django with the bench's environment (DATABASE_URL, or PARLEY_DATA_DIR for SQLite),
started by bench/write.py as ``python -m bench.write_data setup|verify|statements ...``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import django


def setup(args: argparse.Namespace) -> None:
    """Create C clients, C partners (one direct conversation each) and one group of all C."""
    from django.contrib.auth.hashers import make_password

    from chat.services import conversation_create, conversation_direct_get_or_create
    from directory.models import Person
    from directory.services import token_create

    t0 = time.monotonic()
    password = make_password("bench-password")  # one hash for all: the bench uses tokens
    clients = Person.objects.bulk_create(
        Person(username=f"writer{i:04d}", display_name=f"Writer {i}", password=password)
        for i in range(args.clients)
    )
    partners = Person.objects.bulk_create(
        Person(username=f"partner{i:04d}", display_name=f"Partner {i}", password=password)
        for i in range(args.clients)
    )
    # Conversations through the services, as in production (archived conversation.created).
    direct = [
        conversation_direct_get_or_create(person=c, other=p)[0].pk
        for c, p in zip(clients, partners, strict=True)
    ]
    group, _ = conversation_create(
        creator=clients[0], usernames=[c.username for c in clients[1:]], title="bench group"
    )
    tokens = [token_create(person=c, label="bench")[1] for c in clients]
    Path(args.out).write_text(json.dumps({"tokens": tokens, "direct": direct, "group": group.pk}))
    print(
        f"{len(clients)} clients, {len(direct)} direct conversations, one group: "
        f"{time.monotonic() - t0:.1f}s"
    )


def verify(args: argparse.Namespace) -> None:
    """Compare what was acknowledged with what is stored and archived; print one JSON line.

    lost: an acked message that is not stored, or stored without its message.posted record.
    duplicated: a message stored twice for one send (same body key), or archived twice.
    gaps: conversations whose seq numbers are not 1..last without holes.
    """
    from collections import Counter

    from django.db.models import Count, Max

    from archiving.models import ArchiveEvent, ArchiveRecord
    from chat.models import Message

    acked = json.loads(Path(args.acked).read_text())  # {client_id: message id}
    prefix = args.tag
    stored = dict(
        Message.objects.filter(client_id__startswith=prefix).values_list("client_id", "pk")
    )
    archived = Counter(
        ArchiveRecord.objects.filter(
            event=ArchiveEvent.MESSAGE_POSTED, message_id__in=list(stored.values())
        ).values_list("message_id", flat=True)
    )
    lost = sum(
        1 for cid, mid in acked.items() if stored.get(cid) != mid or archived.get(mid, 0) == 0
    )
    bodies = Counter(
        Message.objects.filter(client_id__startswith=prefix).values_list("body", flat=True)
    )
    duplicated = sum(n - 1 for n in bodies.values() if n > 1) + sum(
        n - 1 for n in archived.values() if n > 1
    )
    gaps = sum(
        1
        for row in Message.objects.values("conversation_id").annotate(n=Count("id"), top=Max("seq"))
        if row["n"] != row["top"]
    )
    print(
        json.dumps(
            {
                "acked": len(acked),
                "stored": len(stored),
                "archived": sum(1 for mid in stored.values() if archived.get(mid)),
                "lost": lost,
                "duplicated": duplicated,
                "seq_gaps": gaps,
            }
        )
    )


def statements(args: argparse.Namespace) -> None:
    """Print the SQL statements per post of the path the WebSocket uses, direct and group.

    Counts what Django sends (BEGIN and COMMIT are not statements it logs): N posts go through
    the same entry point as the consumer's, one batch when the path batches.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat import services
    from chat.models import Participant

    data = json.loads(Path(args.data).read_text())
    result = {}
    for workload, conversation_ids in (
        ("direct", data["direct"][: args.posts]),
        ("group", [data["group"]] * args.posts),
    ):
        # Direct: the client (first participant) of each conversation; group: a different
        # member each post.
        members = {
            cid: list(Participant.objects.filter(conversation_id=cid).order_by("id"))
            for cid in set(conversation_ids)
        }
        senders = [
            members[cid][0 if workload == "direct" else i % len(members[cid])].person
            for i, cid in enumerate(conversation_ids)
        ]
        requests = [
            {
                "sender": sender,
                "conversation_id": cid,
                "body": f"statements {workload} {i}",
                "client_id": f"statements-{workload}-{i}-{time.time_ns()}",
            }
            for i, (sender, cid) in enumerate(zip(senders, conversation_ids, strict=True))
        ]
        batch = getattr(services, "message_post_batch", None)
        with CaptureQueriesContext(connection) as one:
            services.message_post(**requests[0])
        cpu0 = time.process_time()
        with CaptureQueriesContext(connection) as ctx:
            if batch is not None:
                batch(requests=requests[1:])
            else:
                for request in requests[1:]:
                    services.message_post(**request)
        cpu = time.process_time() - cpu0
        result[workload] = {
            "single": len(one.captured_queries),
            "per_post": round(len(ctx.captured_queries) / (len(requests) - 1), 2),
            "cpu_ms_per_post": round(1000 * cpu / (len(requests) - 1), 2),
        }
        if args.show:
            for q in one.captured_queries:
                print("  ", q["sql"][:200])
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_setup = sub.add_parser("setup")
    p_setup.add_argument("--clients", type=int, required=True)
    p_setup.add_argument("--out", required=True)
    p_verify = sub.add_parser("verify")
    p_verify.add_argument("--acked", required=True)
    p_verify.add_argument("--tag", required=True)
    p_stmt = sub.add_parser("statements")
    p_stmt.add_argument("--data", required=True)
    p_stmt.add_argument("--posts", type=int, default=21)
    p_stmt.add_argument("--show", action="store_true")
    args = parser.parse_args()
    django.setup()
    {"setup": setup, "verify": verify, "statements": statements}[args.command](args)


if __name__ == "__main__":
    main()
