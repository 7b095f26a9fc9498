"""Rebuild the history search index with the search core's normalised words.

The old index held the raw text under each database's own tokenizer (diacritics removed on
SQLite, runs of Chinese as one word); the new one holds archiving.search.query.words_of. The
SQLite table is recreated with the `ascii` tokenizer, the PostgreSQL one emptied, and every
message not deleted is queued for the indexing task.
"""

from django.db import migrations

OLD_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS chat_message_fts USING fts5("
    "body, tokenize='unicode61 remove_diacritics 2')"
)
NEW_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS chat_message_fts USING fts5("
    "body, tokenize=\"ascii tokenchars '_'\")"
)


def _rebuild(apps, schema_editor, create_sqlite: str) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS chat_message_fts")
        schema_editor.execute(create_sqlite)
    elif vendor == "postgresql":
        schema_editor.execute("DELETE FROM chat_message_search")
    Message = apps.get_model("chat", "Message")
    SearchOutbox = apps.get_model("chat", "SearchOutbox")
    SearchOutbox.objects.all().delete()
    ids = Message.objects.filter(deleted_at__isnull=True).values_list("pk", flat=True)
    batch: list = []
    for message_id in ids.iterator(chunk_size=5000):
        batch.append(SearchOutbox(message_id=message_id))
        if len(batch) == 5000:
            SearchOutbox.objects.bulk_create(batch)
            batch = []
    SearchOutbox.objects.bulk_create(batch)


def forwards(apps, schema_editor):
    _rebuild(apps, schema_editor, NEW_SQLITE)


def backwards(apps, schema_editor):
    _rebuild(apps, schema_editor, OLD_SQLITE)


class Migration(migrations.Migration):
    dependencies = [("chat", "0005_rooms_categories_files_feeds")]

    operations = [migrations.RunPython(forwards, backwards)]
