from django.db import migrations

# The history search index of this release (replaced by the search core's messages collection
# in 0009, which drops these tables).
CREATE_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS chat_message_fts USING fts5("
    "body, tokenize=\"ascii tokenchars '_'\")"
)
CREATE_POSTGRESQL = [
    "CREATE TABLE IF NOT EXISTS chat_message_search ("
    " message_id bigint PRIMARY KEY, vector tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS chat_message_search_vector"
    " ON chat_message_search USING GIN (vector)",
]


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
