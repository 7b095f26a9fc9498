from django.core.management.base import BaseCommand, CommandError

from archiving.selectors import archive_verify


class Command(BaseCommand):
    help = "Re-walk every conversation's archive hash chain and name the first broken record."

    def handle(self, *args, **options):
        report = archive_verify()
        for link in report.broken:
            record = f"record {link.record_id}" if link.record_id else "chain head"
            self.stdout.write(
                f"BROKEN conversation {link.conversation_id} link {link.chain_index} "
                f"({record}): {link.reason}"
            )
        summary = f"{report.chains} chains, {report.records} records checked"
        if not report.is_intact:
            raise CommandError(f"{summary}; {len(report.broken)} broken chain(s).")
        self.stdout.write(self.style.SUCCESS(f"{summary}; all intact."))
