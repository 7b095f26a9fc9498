"""Records archived before the search index existed keep their participants scope."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("archiving", "0008_room_file_history_events")]
AFTER = [("archiving", "0009_search_index")]


def _record(model, conversation_id, chain_index, event, actor, payload):
    return model.objects.create(
        conversation_id=conversation_id,
        conversation_kind="room",
        chain_index=chain_index,
        event=event,
        actor_id=actor.pk,
        actor_username=actor.username,
        payload=payload,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        prev_hash="0" * 64,
        record_hash="1" * 64,
    )


@pytest.mark.django_db(transaction=True)
def test_migration_rebuilds_memberships_from_archived_joins_and_leaves(alice, bob, carol):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("archiving", "ArchiveRecord")
    created = {"participants": ["alice", "bob"], "title": "deals"}
    _record(old, 5, 0, "conversation.created", alice, created)
    _record(old, 5, 1, "participant.joined", alice, {"person": "carol"})
    _record(old, 5, 2, "message.posted", carol, {})
    _record(old, 5, 3, "participant.left", carol, {"person": "carol"})

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new_apps = executor.loader.project_state(AFTER).apps
    spans = new_apps.get_model("archiving", "ArchiveMembership").objects.order_by("person_id")

    assert sorted((s.username, s.from_index, s.to_index) for s in spans) == [
        ("alice", 0, None),
        ("bob", 0, None),
        ("carol", 1, 3),
    ]
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
