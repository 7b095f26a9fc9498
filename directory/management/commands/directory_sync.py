"""manage.py directory_sync [--dry-run]: sync people and groups from LDAP / Active Directory."""

from django.core.management.base import BaseCommand, CommandError

from directory import sync
from directory.integrations import ldap


class Command(BaseCommand):
    help = (
        "Create, update and deactivate people and set linked groups' members from the "
        "directory (PARLEY_LDAP_*); --dry-run prints what would change and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Change nothing; only print.")

    def handle(self, *args, dry_run: bool = False, **options):
        if not ldap.ldap_is_configured():
            raise CommandError("The directory is off: set PARLEY_LDAP_URL (README).")
        try:
            report = sync.directory_sync(dry_run=dry_run)
        except ldap.DirectoryUnavailable as error:
            raise CommandError(str(error)) from error
        verb = "would make" if dry_run else "made"
        for change in report.changes:
            self.stdout.write(("would " if dry_run else "") + change.describe())
        self.stdout.write(f"directory sync {verb} {len(report.changes)} change(s).")
