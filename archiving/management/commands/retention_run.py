from django.core.management.base import BaseCommand

from archiving.retention import retention_dry_run, retention_run


class Command(BaseCommand):
    help = (
        "Purge archive records past their retention policy unless a legal hold covers them; "
        "--dry-run only counts what would be purged. Both are audited."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what a run would purge; change nothing."
        )

    def handle(self, *args, **options):
        if options["dry_run"]:
            preview = retention_dry_run(actor=None)
            self.stdout.write(f"Dry run: {preview.records} record(s) would be purged.")
            for username, count in sorted(preview.per_person.items()):
                self.stdout.write(f"  person {username}: {count}")
            for conversation_id, entry in sorted(preview.per_conversation.items()):
                self.stdout.write(
                    f"  conversation {conversation_id} ({entry['kind']}): {entry['records']}"
                )
            self.stdout.write(f"{preview.held} expired record(s) kept by legal holds.")
            return
        result = retention_run(actor=None)
        self.stdout.write(
            self.style.SUCCESS(
                f"Retention run {result.run_id}: {result.records} record(s) purged, "
                f"{result.held} kept by legal holds."
            )
        )
