from django.conf import settings
from django.core.management.base import BaseCommand

from archiving.anchors import chain_anchor_create


class Command(BaseCommand):
    help = (
        "Sign every archive chain head and the audit chain head now; store the anchor and "
        "write it to PARLEY_ANCHOR_DIR (keep a copy outside Parley)."
    )

    def handle(self, *args, **options):
        anchor = chain_anchor_create(reason="on_demand")
        path = settings.PARLEY_ANCHOR_DIR / anchor.file_name
        self.stdout.write(self.style.SUCCESS(f"anchor {anchor.pk} written to {path}"))
