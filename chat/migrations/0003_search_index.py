from django.db import migrations

from chat.search import CREATE_POSTGRESQL, CREATE_SQLITE


def create_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in CREATE_POSTGRESQL:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        schema_editor.execute(CREATE_SQLITE)


def drop_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TABLE IF EXISTS chat_message_search")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS chat_message_fts")


class Migration(migrations.Migration):
    dependencies = [("chat", "0002_initial")]

    operations = [migrations.RunPython(create_index, drop_index)]
