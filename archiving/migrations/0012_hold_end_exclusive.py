"""Hold ends become exclusive (directory/moments.py): an end stored as the last instant of a day
(23:59:59.999999, the old reading of a bare end date) moves to the first instant of the next
day, so the hold keeps covering exactly what it covered."""

from datetime import time, timedelta

from django.db import migrations


def ends_exclusive(apps, schema_editor):
    LegalHold = apps.get_model("archiving", "LegalHold")
    for hold in LegalHold.objects.filter(end_at__isnull=False).only("pk", "end_at"):
        if hold.end_at.timetz().replace(tzinfo=None) == time.max:
            LegalHold.objects.filter(pk=hold.pk).update(
                end_at=hold.end_at + timedelta(microseconds=1)
            )


class Migration(migrations.Migration):
    dependencies = [("archiving", "0011_history_view_repeats")]

    operations = [migrations.RunPython(ends_exclusive, migrations.RunPython.noop)]
