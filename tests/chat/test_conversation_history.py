"""Conversation history in a person's own mailbox, against a wire-level EWS fake (exchangelib
talking HTTP to tests/directory/ews_mailbox.py): the folder, one item per conversation-day,
idempotency by Message-ID, replacement of a day's item, and the server's refusals."""

from datetime import UTC, datetime, timedelta

import pytest

from chat import services, tasks
from chat.models import ConversationHistoryDay, Message
from directory import services as directory_services
from directory.models import MailboxSync
from tests.directory.ews_mailbox import ROOT_ID, start_fake, stop_fake

pytestmark = pytest.mark.django_db

ALICE_MAIL = "alice@contoso.test"
TODAY = datetime.now(tz=UTC).date()
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture
def mailbox(settings):
    settings.PARLEY_CONVERSATION_HISTORY = True
    fake = start_fake(settings, ALICE_MAIL)
    yield fake
    stop_fake(fake)
    assert fake.unanswered == []


@pytest.fixture
def alice(make_person):
    return make_person("alice", display_name="Alice Martin", email=ALICE_MAIL)


@pytest.fixture
def bob(make_person):
    return make_person("bob", display_name="Bob Chen", email="bob@contoso.test")


@pytest.fixture
def carol(make_person):
    return make_person("carol", display_name="Carol Diaz", email="carol@contoso.test")


def keeps_history(person, *, since: datetime) -> None:
    directory_services.mailbox_sync_update(person=person, choices={"conversation_history": True})
    MailboxSync.objects.filter(person=person).update(history_checked_until=since)


def post(sender, conversation, body: str, *, at: datetime | None = None) -> Message:
    message, _ = services.message_post(sender=sender, conversation_id=conversation.pk, body=body)
    if at is not None:
        Message.objects.filter(pk=message.pk).update(created_at=at)
    return message


def run() -> int:
    """Run the beat task and the per-person tasks it queues (eager, as in one process)."""
    return tasks.conversation_history_write_all.apply().get()


def message_id(person, conversation, day) -> str:
    return f"<history.p{person.pk}.c{conversation.pk}.{day:%Y%m%d}@parley.conversation-history>"


def hour_minute(body: str) -> str:
    return f"{Message.objects.get(body=body).created_at.astimezone(UTC):%H:%M}"


def text(mailbox, item) -> str:
    return mailbox.message_mime(item).get_content().replace("\r\n", "\n")


def history_items(mailbox) -> list[tuple[str, str, str]]:
    return sorted(
        (item["message_id"], item["subject"], text(mailbox, item))
        for item in mailbox.items_in("Conversation History")
    )


def test_first_run_creates_the_folder_and_one_item_per_conversation_day(mailbox, alice, bob, carol):
    keeps_history(alice, since=datetime.now(tz=UTC) - timedelta(days=2))
    direct, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    group, _ = services.conversation_create(
        creator=carol, usernames=["alice", "bob"], title="Launch"
    )
    yesterday_nine = datetime.combine(YESTERDAY, datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=9
    )
    post(bob, direct, "Lunch tomorrow?", at=yesterday_nine)
    post(alice, direct, "Yes, noon", at=yesterday_nine + timedelta(minutes=2))
    post(alice, direct, "On my way")
    post(carol, group, "Launch is on Friday")
    room = services.room_create(creator=bob, title="Desk")
    services.room_join(person=alice, room_id=room.pk)
    post(alice, room, "Rooms keep their own history")

    assert run() == 1

    # Found by name under the top of the mailbox, created there, then one upload per day.
    assert mailbox.operations == [
        "GetFolder",
        "GetFolder",
        "FindFolder",
        "CreateFolder",
        "FindItem",
        "CreateItem",
        "FindItem",
        "CreateItem",
        "FindItem",
        "CreateItem",
    ]
    folder = mailbox.folder_named("Conversation History")
    assert mailbox.folders[folder]["parent"] == ROOT_ID
    assert history_items(mailbox) == sorted(
        [
            (
                message_id(alice, direct, YESTERDAY),
                "Conversation with Bob Chen",
                f"{YESTERDAY} (times in UTC)\n\n"
                "[09:00] Bob Chen: Lunch tomorrow?\n[09:02] Alice Martin: Yes, noon\n",
            ),
            (
                message_id(alice, direct, TODAY),
                "Conversation with Bob Chen",
                f"{TODAY} (times in UTC)\n\n[{hour_minute('On my way')}] Alice Martin: On my way\n",
            ),
            (
                message_id(alice, group, TODAY),
                "Conversation with Bob Chen, Carol Diaz",
                f"{TODAY} (times in UTC)\n\n[{hour_minute('Launch is on Friday')}] "
                "Carol Diaz: Launch is on Friday\n",
            ),
        ]
    )
    assert {(i["disposition"], i["is_read"]) for i in mailbox.items_in("Conversation History")} == {
        ("SaveOnly", "1")
    }
    assert MailboxSync.objects.get(person=alice).last_error == ""


def test_a_second_run_with_nothing_new_writes_nothing(mailbox, alice, bob):
    keeps_history(alice, since=datetime.now(tz=UTC) - timedelta(hours=1))
    direct, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    post(bob, direct, "Hello")
    run()
    before = history_items(mailbox)
    mailbox.operations.clear()

    run()

    assert mailbox.operations == []
    assert history_items(mailbox) == before


def test_a_later_message_the_same_day_replaces_that_days_item(mailbox, alice, bob):
    keeps_history(alice, since=datetime.now(tz=UTC) - timedelta(hours=1))
    direct, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    post(bob, direct, "Hello")
    run()
    [first] = mailbox.items_in("Conversation History")
    mailbox.operations.clear()
    post(alice, direct, "Hi Bob")

    run()

    # The folder is found (FindFolder, then GetFolder of it), the day's items looked up by
    # Message-ID; the new item is stored before the old one goes: a cut between loses nothing.
    assert mailbox.operations == [
        "GetFolder",
        "GetFolder",
        "FindFolder",
        "GetFolder",
        "FindItem",
        "CreateItem",
        "DeleteItem",
    ]
    [item] = mailbox.items_in("Conversation History")
    assert item["message_id"] == message_id(alice, direct, TODAY)
    assert text(mailbox, item).splitlines()[2:] == [
        f"[{Message.objects.get(body='Hello').created_at:%H:%M}] Bob Chen: Hello",
        f"[{Message.objects.get(body='Hi Bob').created_at:%H:%M}] Alice Martin: Hi Bob",
    ]
    assert [(d["id"], d["how"]) for d in mailbox.deleted] == [(first["id"], "MoveToDeletedItems")]


def test_a_lost_local_record_still_leaves_one_item_per_message_id(mailbox, alice, bob):
    keeps_history(alice, since=datetime.now(tz=UTC) - timedelta(hours=1))
    direct, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    post(bob, direct, "Hello")
    run()
    ConversationHistoryDay.objects.all().delete()
    MailboxSync.objects.filter(person=alice).update(
        history_checked_until=datetime.now(tz=UTC) - timedelta(hours=1)
    )

    run()

    assert [i["message_id"] for i in mailbox.items_in("Conversation History")] == [
        message_id(alice, direct, TODAY)
    ]
    assert len(mailbox.deleted) == 1


def test_only_what_the_person_could_read_is_written(mailbox, alice, bob, carol):
    keeps_history(alice, since=datetime.now(tz=UTC) - timedelta(hours=1))
    group, _ = services.conversation_create(creator=bob, usernames=["carol"], title="Plans")
    post(bob, group, "Before alice came")
    services.participant_add(actor=bob, conversation_id=group.pk, username="alice")
    post(carol, group, "Welcome alice")

    run()

    [item] = mailbox.items_in("Conversation History")
    content = text(mailbox, item)
    assert "Welcome alice" in content
    assert "Before alice came" not in content


def test_people_who_did_not_turn_it_on_get_nothing(mailbox, alice, bob):
    direct, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    post(bob, direct, "Hello")

    assert run() == 0

    assert mailbox.operations == []


def test_a_throttled_upload_is_retried_and_written_once(mailbox, alice, bob, settings):
    keeps_history(alice, since=datetime.now(tz=UTC) - timedelta(hours=1))
    direct, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    post(bob, direct, "Hello")
    mailbox.busy["CreateItem"] = 1
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a worker: the task can be retried

    tasks.conversation_history_write.apply(args=[alice.pk], throw=False)

    assert mailbox.operations.count("CreateItem") == 2
    assert [i["message_id"] for i in mailbox.items_in("Conversation History")] == [
        message_id(alice, direct, TODAY)
    ]
    assert MailboxSync.objects.get(person=alice).last_error == ""


def test_a_refused_sign_in_is_reported_and_written_at_the_next_run(mailbox, alice, bob):
    keeps_history(alice, since=datetime.now(tz=UTC) - timedelta(hours=1))
    direct, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    post(bob, direct, "Hello")
    mailbox.wrong_password = True

    run()

    sync = MailboxSync.objects.get(person=alice)
    assert sync.last_error.startswith(
        "Conversation history: UnauthorizedError: Invalid credentials"
    )
    assert sync.last_error_at is not None
    assert ConversationHistoryDay.objects.count() == 0
    assert mailbox.items_in("Conversation History") == []
    mailbox.wrong_password = False

    run()

    assert [i["message_id"] for i in mailbox.items_in("Conversation History")] == [
        message_id(alice, direct, TODAY)
    ]
    assert MailboxSync.objects.get(person=alice).last_error == ""


def test_turning_it_on_is_refused_while_the_administrator_has_it_off(
    api_client_for, alice, settings
):
    settings.PARLEY_CONVERSATION_HISTORY = False

    response = api_client_for(alice).patch(
        "/api/v1/me/mailbox/", {"conversation_history": True}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "mailbox_feature_off",
        "detail": "conversation_history is not offered on this server (an administrator "
        "turns it on).",
    }
    assert MailboxSync.objects.filter(keeps_conversation_history=True).count() == 0


def test_a_person_turns_it_on_and_reads_the_state(mailbox, api_client_for, alice):
    client = api_client_for(alice)

    response = client.patch("/api/v1/me/mailbox/", {"conversation_history": True}, format="json")

    assert response.status_code == 200
    body = client.get("/api/v1/me/mailbox/").json()
    assert body["conversation_history"] is True
    assert body["contact_sync"] is False
    assert body["offered"] == {"conversation_history": True, "contact_sync": False}
    assert body["last_error"] == ""
    assert body["history_checked_until"] is not None
