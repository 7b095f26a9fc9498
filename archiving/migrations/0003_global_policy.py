from django.db import migrations


def create_global_policy(apps, schema_editor):
    policy = apps.get_model("archiving", "ArchivingPolicy")
    policy.objects.get_or_create(
        is_global=True,
        defaults={"name": "Global", "archive_internal": True, "archive_external": True},
    )


class Migration(migrations.Migration):
    dependencies = [("archiving", "0002_initial")]

    operations = [migrations.RunPython(create_global_policy, migrations.RunPython.noop)]
