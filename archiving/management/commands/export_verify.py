from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from archiving.exports.manifest import export_verify


class Command(BaseCommand):
    help = (
        "Check an export (its directory or its zip) against its manifest.json: missing, extra "
        "and altered files, and record counts. Exits non-zero on any problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="an export directory or the zip downloaded from Parley")
        parser.add_argument(
            "--public-key",
            metavar="PEM",
            help="the public key to trust (the console's download); default: this server's key",
        )

    def handle(self, *args, **options):
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        if options["public_key"]:
            trusted = Path(options["public_key"]).read_text()
        else:
            from archiving.signing import public_key_pem

            trusted = public_key_pem()
        try:
            report, manifest = export_verify(path, trusted_public_key=trusted)
        except (FileNotFoundError, ValueError, KeyError) as error:
            raise CommandError(f"{path}: {error}") from error
        for name in report.missing:
            self.stdout.write(f"MISSING {name}")
        for name in report.extra:
            self.stdout.write(f"EXTRA {name}")
        for line in report.altered:
            self.stdout.write(f"ALTERED {line}")
        for line in report.count_problems:
            self.stdout.write(f"COUNT {line}")
        for line in report.signature_problems:
            self.stdout.write(f"SIGNATURE {line}")
        counts = manifest.get("counts", {})
        summary = (
            f"export {manifest.get('export', {}).get('id')}: {report.files} files, "
            f"{counts.get('written_records')} records"
        )
        if not report.is_intact:
            problems = (
                len(report.missing)
                + len(report.extra)
                + len(report.altered)
                + len(report.count_problems)
                + len(report.signature_problems)
            )
            raise CommandError(f"{summary}; {problems} problem(s).")
        self.stdout.write(
            self.style.SUCCESS(
                f"{summary}; matches its manifest, signed by key SHA-256 {report.signer_sha256}."
            )
        )
