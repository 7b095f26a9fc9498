from django.core.management.base import BaseCommand

from archiving.search import indexing


class Command(BaseCommand):
    help = (
        "Rebuild the search index: empty it, queue every archive record and every message "
        "not deleted (history search), and index them now (audited as search.reindex)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue-only",
            action="store_true",
            help="Only queue the records; let the Celery workers index them.",
        )

    def handle(self, *args, **options):
        queued = indexing.search_reindex(actor=None)
        self.stdout.write(
            f"{queued.records} records and {queued.messages} messages queued for indexing."
        )
        if options["queue_only"]:
            return
        done = indexing.search_index_pending()
        self.stdout.write(self.style.SUCCESS(f"{done} records and messages indexed."))
