"""People's mailboxes written by a real Celery worker: the beat tasks fan out one task per
person, the worker talks EWS to a wire-level fake (tests/directory/ews_mailbox.py), and a
throttled answer is retried by the worker without losing or doubling anything."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from chat import services as chat
from directory import services as directory_services
from directory.models import MailboxSync
from presence import services as presence
from tests.directory.ews_mailbox import SERVICE_PASSWORD, SERVICE_USER, start_fake, stop_fake
from tests.e2e.conftest import cluster_running

pytestmark = pytest.mark.e2e

ALICE_MAIL = "alice@contoso.test"


def wait_for(condition, what: str, *, cluster, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s\n{cluster.logs()}")
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_the_worker_writes_history_and_contacts_through_a_throttled_exchange(
    settings, make_person, tmp_path
):
    settings.PARLEY_CONVERSATION_HISTORY = settings.PARLEY_CONTACT_SYNC = True
    mailbox = start_fake(settings, ALICE_MAIL)
    environment = {
        "PARLEY_EXCHANGE_EWS_URL": mailbox.url,
        "PARLEY_EXCHANGE_USERNAME": SERVICE_USER,
        "PARLEY_EXCHANGE_PASSWORD": SERVICE_PASSWORD,
        "PARLEY_CONVERSATION_HISTORY": "true",
        "PARLEY_CONTACT_SYNC": "true",
        "PARLEY_MAILBOX_RETRY_SECONDS": "0.5",
    }
    try:
        with cluster_running(tmp_path, extra_env=environment, server_names=()) as cluster:
            alice = make_person("alice", display_name="Alice Martin", email=ALICE_MAIL)
            bob = make_person("bob", display_name="Bob Chen", email="bob@contoso.test")
            directory_services.mailbox_sync_update(
                person=alice, choices={"conversation_history": True, "contact_sync": True}
            )
            MailboxSync.objects.filter(person=alice).update(
                history_checked_until=datetime.now(tz=UTC) - timedelta(minutes=10)
            )
            conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
            chat.message_post(sender=bob, conversation_id=conversation.pk, body="Lunch?")
            presence.contact_add(owner=alice, username="bob", group="Team")
            # Exchange throttles the first upload of each kind: the worker retries both.
            mailbox.busy["CreateItem"] = 1

            cluster.task_send("chat.tasks.conversation_history_write_all")
            cluster.task_send("presence.tasks.contacts_mailbox_sync_all")

            wait_for(
                lambda: (
                    len(mailbox.items_in("Conversation History")) == 1
                    and len(mailbox.items_in("Parley Contacts")) == 1
                ),
                "one history item and one contact in the mailbox",
                cluster=cluster,
            )
            wait_for(
                lambda: MailboxSync.objects.filter(
                    person=alice, contacts_synced_at__isnull=False, last_error=""
                ).exists(),
                "the contact sync recorded as done",
                cluster=cluster,
            )
            cluster.wait_until_worker_idle()
    finally:
        stop_fake(mailbox)

    [history] = mailbox.items_in("Conversation History")
    assert history["message_id"] == (
        f"<history.p{alice.pk}.c{conversation.pk}.{datetime.now(tz=UTC):%Y%m%d}"
        "@parley.conversation-history>"
    )
    assert "Bob Chen: Lunch?" in mailbox.message_mime(history).get_content()
    [contact] = mailbox.items_in("Parley Contacts")
    assert (contact["email"], contact["categories"]) == ("bob@contoso.test", ["Team"])
    # Three uploads: one throttled, then the history item and the contact.
    assert mailbox.operations.count("CreateItem") == 3
    assert mailbox.unanswered == []
