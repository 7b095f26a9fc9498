import importlib

import pytest
from django.apps import apps

from archiving.models import ArchiveEvent, ArchiveParticipant, ArchiveRecord
from chat import services as chat

pytestmark = pytest.mark.django_db


def _pairs():
    return set(ArchiveParticipant.objects.values_list("conversation_id", "person__username"))


def test_capture_records_who_takes_part(alice, bob, carol):
    room = chat.room_create(creator=alice, title="Desk", members=[bob])
    chat.message_post(sender=bob, conversation_id=room.pk, body="hi")
    chat.participant_add(actor=alice, conversation_id=room.pk, username="carol")
    chat.participant_leave(person=carol, conversation_id=room.pk)

    assert _pairs() == {(room.pk, "alice"), (room.pk, "bob"), (room.pk, "carol")}


def test_the_migration_backfills_participants_from_existing_records(
    archive_record, alice, bob, carol, make_person
):
    dave = make_person("dave")
    archive_record(
        conversation_id=5,
        actor=alice,
        at=0,
        participants=[alice, bob],
        event=ArchiveEvent.CONVERSATION_CREATED,
    )
    archive_record(conversation_id=5, actor=carol, at=1, body="hello")
    archive_record(conversation_id=6, actor=dave, at=2)
    ArchiveParticipant.objects.all().delete()
    # payloads as chat writes them (hashes do not matter to the backfill)
    ArchiveRecord.objects.filter(conversation_id=5, chain_index=0).update(
        payload={"participants": ["alice", "bob"], "title": ""}
    )
    ArchiveRecord.objects.filter(conversation_id=6).update(payload={"person": "bob"})
    migration = importlib.import_module("archiving.migrations.0006_cases_holds_retention")

    migration.archive_participants_backfill(apps, None)

    assert _pairs() == {(5, "alice"), (5, "bob"), (5, "carol"), (6, "dave"), (6, "bob")}
