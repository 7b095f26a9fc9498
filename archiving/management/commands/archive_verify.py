from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from archiving.anchors import anchors_verify
from archiving.selectors import archive_and_audit_verify


class Command(BaseCommand):
    help = (
        "Re-walk every conversation's archive hash chain and name the first broken record; "
        "with --anchors, also prove the archive against signed anchor files kept elsewhere."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchors",
            action="append",
            default=[],
            metavar="FILE",
            help="an anchor file (or a directory of them) written by archive_anchor; repeatable",
        )
        parser.add_argument(
            "--public-key",
            metavar="PEM",
            help="the public key to trust (default: this server's own key)",
        )

    def handle(self, *args, **options):
        anchored = None
        if options["anchors"]:
            paths = [Path(p) for p in options["anchors"]]
            for path in paths:
                if not path.exists():
                    raise CommandError(f"{path} does not exist.")
            trusted = Path(options["public_key"]).read_text() if options["public_key"] else None
            anchored = anchors_verify(paths, trusted_public_key=trusted)
            for problem in anchored.problems:
                self.stdout.write(f"BROKEN anchor: {problem}")
            for note in anchored.notes:
                self.stdout.write(f"NOTE anchor: {note}")
        report, audit = archive_and_audit_verify()
        for link in report.broken:
            record = f"record {link.record_id}" if link.record_id else "chain head"
            self.stdout.write(
                f"BROKEN conversation {link.conversation_id} link {link.chain_index} "
                f"({record}): {link.reason}"
            )
        for problem in report.anchor_problems:
            self.stdout.write(f"BROKEN purge record: {problem}")
        if not audit.is_intact:
            self.stdout.write(f"BROKEN audit trail at entry {audit.broken_at}: {audit.reason}")
        summary = (
            f"{report.chains} chains, {report.records} records, "
            f"{audit.entries} audit entries checked"
        )
        if anchored is not None:
            summary += f", against {anchored.anchors} anchor(s) of {anchored.chains} chain heads"
        anchors_intact = anchored is None or anchored.is_intact
        if not report.is_intact or not audit.is_intact or not anchors_intact:
            broken = (
                len(report.broken)
                + len(report.anchor_problems)
                + (0 if audit.is_intact else 1)
                + (len(anchored.problems) if anchored is not None else 0)
            )
            raise CommandError(f"{summary}; {broken} broken chain(s).")
        self.stdout.write(self.style.SUCCESS(f"{summary}; all intact."))
