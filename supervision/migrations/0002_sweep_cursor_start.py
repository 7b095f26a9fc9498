from django.db import migrations
from django.db.models import Max


def cursor_start(apps, schema_editor):
    """Start the sweep at the archive's current end: policies judge what is captured from their
    creation, so a new deployment need not re-read the whole archive."""
    record = apps.get_model("archiving", "ArchiveRecord")
    cursor = apps.get_model("supervision", "SupervisionCursor")
    newest = record.objects.aggregate(newest=Max("pk"))["newest"] or 0
    cursor.objects.get_or_create(pk=1, defaults={"last_record_id": newest})


class Migration(migrations.Migration):
    dependencies = [
        ("supervision", "0001_supervision_review"),
        ("archiving", "0017_audit_supervision_actions"),
    ]

    operations = [migrations.RunPython(cursor_start, migrations.RunPython.noop)]
