"""History search runs on the search core's one index pipeline: drop chat's own index.

The messages collection of the search core replaces chat_message_fts (SQLite) and
chat_message_search (PostgreSQL), and the archive index outbox replaces SearchOutbox. Every
message not deleted is queued in that outbox, so the indexing task fills the new collection.
"""

from django.db import migrations

BATCH = 5000
# The old tables, as 0006 left them (for going back).
OLD_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS chat_message_fts USING fts5("
    "body, tokenize=\"ascii tokenchars '_'\")"
)
OLD_POSTGRESQL = [
    "CREATE TABLE IF NOT EXISTS chat_message_search ("
    " message_id bigint PRIMARY KEY, vector tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS chat_message_search_vector"
    " ON chat_message_search USING GIN (vector)",
]


def _message_ids(apps):
    Message = apps.get_model("chat", "Message")
    return (
        Message.objects.filter(deleted_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
        .iterator(chunk_size=BATCH)
    )


def _bulk(model, rows) -> None:
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            model.objects.bulk_create(batch)
            batch = []
    model.objects.bulk_create(batch)


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TABLE IF EXISTS chat_message_search")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS chat_message_fts")
    Outbox = apps.get_model("archiving", "ArchiveIndexOutbox")
    _bulk(Outbox, (Outbox(message_id=pk) for pk in _message_ids(apps)))


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in OLD_POSTGRESQL:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        schema_editor.execute(OLD_SQLITE)
    Outbox = apps.get_model("archiving", "ArchiveIndexOutbox")
    Outbox.objects.filter(message_id__isnull=False).delete()
    SearchOutbox = apps.get_model("chat", "SearchOutbox")
    _bulk(SearchOutbox, (SearchOutbox(message_id=pk) for pk in _message_ids(apps)))


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0008_merge_history_search"),
        ("archiving", "0017_history_search_messages_in_the_index_outbox"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.DeleteModel(name="SearchOutbox"),
    ]
