from django.core.management.base import BaseCommand, CommandError

from archiving.selectors import archive_and_audit_verify


class Command(BaseCommand):
    help = "Re-walk every conversation's archive hash chain and name the first broken record."

    def handle(self, *args, **options):
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
        if not report.is_intact or not audit.is_intact:
            broken = (
                len(report.broken) + len(report.anchor_problems) + (0 if audit.is_intact else 1)
            )
            raise CommandError(f"{summary}; {broken} broken chain(s).")
        self.stdout.write(self.style.SUCCESS(f"{summary}; all intact."))
