"""Moving history search onto the search core: the old index goes, every message is queued."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from archiving.search.backend import backend_reset
from archiving.search.indexing import search_index_pending

BEFORE = [("chat", "0008_merge_history_search"), ("archiving", "0016_merge_parked_rows")]
AFTER = [("chat", "0009_history_search_on_the_one_index_pipeline")]
OLD_TABLE = {"postgresql": "chat_message_search", "sqlite": "chat_message_fts"}


def _tables() -> set[str]:
    return set(connection.introspection.table_names())


@pytest.mark.django_db(transaction=True)
def test_migration_drops_chat_index_and_queues_every_message_not_deleted(
    alice, bob, api_client_for
):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    conversation = old.get_model("chat", "Conversation").objects.create(
        kind="group", title="ledgers", created_by_id=alice.pk, last_seq=2
    )
    for person in (alice, bob):
        old.get_model("chat", "Participant").objects.create(
            conversation=conversation, person_id=person.pk
        )
    message = old.get_model("chat", "Message")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    kept = message.objects.create(
        conversation=conversation,
        seq=1,
        sender_id=alice.pk,
        body="ledger",
        created_at=now,
        client_id="a",
    )
    message.objects.create(
        conversation=conversation,
        seq=2,
        sender_id=alice.pk,
        body="",
        client_id="b",
        created_at=now,
        deleted_at=now,
    )
    old.get_model("chat", "SearchOutbox").objects.create(message_id=kept.pk)
    assert OLD_TABLE[connection.vendor] in _tables()

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new_apps = executor.loader.project_state(AFTER).apps
    outbox = new_apps.get_model("archiving", "ArchiveIndexOutbox").objects

    assert OLD_TABLE[connection.vendor] not in _tables()
    assert "chat_searchoutbox" not in _tables()
    assert list(outbox.values_list("record_id", "message_id")) == [(None, kept.pk)]

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    backend_reset()
    search_index_pending()
    response = api_client_for(bob).get("/api/v1/search/", {"q": "ledger"})
    assert [hit["id"] for hit in response.json()["results"]] == [kept.pk]
