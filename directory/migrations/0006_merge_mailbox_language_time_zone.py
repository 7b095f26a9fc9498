# Joins the migrations that parallel work added to this app.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('directory', '0005_mailbox_sync'),
        ('directory', '0005_person_language_organisation_settings'),
    ]

    operations = [
    ]
