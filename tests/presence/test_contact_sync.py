"""Contacts kept alike with a contacts folder of the person's mailbox, both ways, against a
wire-level EWS fake (tests/directory/ews_mailbox.py): creation, changes and deletions each
way, the conflict rule, and the server's refusals."""

from datetime import UTC, datetime, timedelta

import pytest

from directory import services as directory_services
from directory.models import MailboxSync
from presence import services, tasks
from presence.models import Contact, MailboxContactLink
from tests.directory.ews_mailbox import CONTACTS_ID, start_fake, stop_fake

pytestmark = pytest.mark.django_db

ALICE_MAIL = "alice@contoso.test"
FOLDER = "Parley Contacts"


@pytest.fixture
def mailbox(settings):
    settings.PARLEY_CONTACT_SYNC = True
    fake = start_fake(settings, ALICE_MAIL)
    yield fake
    stop_fake(fake)
    assert fake.unanswered == []


@pytest.fixture
def alice(make_person):
    return make_person("alice", display_name="Alice Martin", email=ALICE_MAIL)


@pytest.fixture
def bob(make_person):
    person = make_person(
        "bob",
        display_name="Bob Chen",
        email="bob@contoso.test",
        company="Contoso",
        title="Engineer",
    )
    person.first_name, person.last_name = "Bob", "Chen"
    person.save(update_fields=["first_name", "last_name"])
    return person


@pytest.fixture
def carol(make_person):
    return make_person("carol", display_name="Carol Diaz", email="carol@contoso.test")


@pytest.fixture
def dana(make_person):
    return make_person("dana", display_name="Dana Ito", email="Dana@Contoso.test")


@pytest.fixture
def syncing(mailbox, alice):
    directory_services.mailbox_sync_update(person=alice, choices={"contact_sync": True})
    return alice


def run() -> int:
    return tasks.contacts_mailbox_sync_all.apply().get()


def mailbox_contacts(mailbox) -> list[tuple[str, str, list[str]]]:
    return sorted(
        (item["email"], item["display_name"], item["categories"])
        for item in mailbox.items_in(FOLDER)
    )


def parley_contacts(owner) -> list[tuple[str, str]]:
    return sorted(Contact.objects.filter(owner=owner).values_list("person__username", "group"))


def item_of(mailbox, email: str) -> dict:
    [item] = [i for i in mailbox.items_in(FOLDER) if i["email"] == email]
    return item


def ews_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_first_sync_creates_the_folder_and_writes_every_contact(syncing, mailbox, bob, carol):
    services.contact_add(owner=syncing, username="bob", group="Team")
    services.contact_add(owner=syncing, username="carol")

    assert run() == 1

    folder = mailbox.folder_named(FOLDER)
    assert mailbox.folders[folder]["parent"] == CONTACTS_ID
    assert mailbox.operations == [
        "GetFolder",
        "GetFolder",
        "FindFolder",
        "CreateFolder",
        "FindItem",
        "CreateItem",
        "CreateItem",
    ]
    assert mailbox_contacts(mailbox) == [
        ("bob@contoso.test", "Bob Chen", ["Team"]),
        ("carol@contoso.test", "Carol Diaz", []),
    ]
    bob_item = item_of(mailbox, "bob@contoso.test")
    assert (bob_item["given_name"], bob_item["surname"], bob_item["company"]) == (
        "Bob",
        "Chen",
        "Contoso",
    )
    assert bob_item["job_title"] == "Engineer"
    assert MailboxContactLink.objects.filter(owner=syncing).count() == 2
    assert MailboxSync.objects.get(person=syncing).contacts_synced_at is not None


def test_a_sync_with_nothing_changed_writes_nothing(syncing, mailbox, bob):
    services.contact_add(owner=syncing, username="bob", group="Team")
    run()
    mailbox.operations.clear()

    run()

    # The folder is found and its change keys listed; no item is read or written.
    assert mailbox.operations == ["GetFolder", "GetFolder", "FindFolder", "GetFolder", "FindItem"]
    assert mailbox_contacts(mailbox) == [("bob@contoso.test", "Bob Chen", ["Team"])]


def test_parley_changes_and_deletions_reach_the_mailbox(syncing, mailbox, bob, carol):
    services.contact_add(owner=syncing, username="bob", group="Team")
    services.contact_add(owner=syncing, username="carol", group="Team")
    run()
    carol_id = item_of(mailbox, "carol@contoso.test")["id"]
    services.contact_update(owner=syncing, username="bob", group="Friends")
    services.contact_remove(owner=syncing, username="carol")

    run()

    assert mailbox_contacts(mailbox) == [("bob@contoso.test", "Bob Chen", ["Friends"])]
    assert [(d["id"], d["how"]) for d in mailbox.deleted] == [(carol_id, "MoveToDeletedItems")]
    assert list(
        MailboxContactLink.objects.filter(owner=syncing).values_list("person__username", flat=True)
    ) == ["bob"]


def test_mailbox_changes_additions_and_deletions_reach_parley(syncing, mailbox, bob, carol, dana):
    services.contact_add(owner=syncing, username="bob", group="Team")
    services.contact_add(owner=syncing, username="carol")
    run()
    mailbox.contact_edit(item_of(mailbox, "bob@contoso.test"), categories=["Golf", "Team"])
    mailbox.items[mailbox.folder_named(FOLDER)].remove(item_of(mailbox, "carol@contoso.test"))
    mailbox.contact_put(display_name="Dana", email="dana@contoso.test", categories=["Golf"])
    mailbox.contact_put(display_name="Plumber", email="plumber@example.com")

    run()

    assert parley_contacts(syncing) == [("bob", "Golf"), ("dana", "Golf")]
    # The directory decides who a contact is: Dana's item gets her directory name and address;
    # the plumber, unknown to Parley, is left as Outlook has him.
    assert mailbox_contacts(mailbox) == [
        (dana.email, "Dana Ito", ["Golf"]),
        ("bob@contoso.test", "Bob Chen", ["Golf", "Team"]),
        ("plumber@example.com", "Plumber", []),
    ]
    assert mailbox.deleted == []


def test_a_conflict_goes_to_the_later_change(syncing, mailbox, bob, carol):
    services.contact_add(owner=syncing, username="bob", group="Team")
    services.contact_add(owner=syncing, username="carol", group="Team")
    run()
    now = datetime.now(tz=UTC)
    MailboxContactLink.objects.update(synced_at=now - timedelta(minutes=10))
    # Bob: changed in Parley, then later in Outlook -> Outlook's group wins.
    services.contact_update(owner=syncing, username="bob", group="Parley side")
    Contact.objects.filter(person=bob).update(updated_at=now - timedelta(minutes=5))
    bob_item = item_of(mailbox, "bob@contoso.test")
    mailbox.contact_edit(bob_item, categories=["Outlook side"])
    bob_item["modified"] = ews_time(now - timedelta(minutes=4))
    # Carol: changed in Outlook, then later in Parley -> Parley's group wins.
    carol_item = item_of(mailbox, "carol@contoso.test")
    mailbox.contact_edit(carol_item, categories=["Outlook side"])
    carol_item["modified"] = ews_time(now - timedelta(minutes=5))
    services.contact_update(owner=syncing, username="carol", group="Parley side")
    Contact.objects.filter(person=carol).update(updated_at=now - timedelta(minutes=4))

    run()

    assert parley_contacts(syncing) == [("bob", "Outlook side"), ("carol", "Parley side")]
    assert mailbox_contacts(mailbox) == [
        ("bob@contoso.test", "Bob Chen", ["Outlook side"]),
        ("carol@contoso.test", "Carol Diaz", ["Parley side"]),
    ]
    mailbox.operations.clear()

    run()  # alike again: nothing more to do

    assert "UpdateItem" not in mailbox.operations
    assert "CreateItem" not in mailbox.operations


def test_a_change_wins_over_a_deletion_on_the_other_side(syncing, mailbox, bob, carol):
    services.contact_add(owner=syncing, username="bob", group="Team")
    services.contact_add(owner=syncing, username="carol", group="Team")
    run()
    # Bob: removed in Parley but edited in Outlook -> back in Parley with Outlook's group.
    services.contact_remove(owner=syncing, username="bob")
    mailbox.contact_edit(item_of(mailbox, "bob@contoso.test"), categories=["Kept"])
    # Carol: deleted in Outlook but edited in Parley -> back in the mailbox.
    mailbox.items[mailbox.folder_named(FOLDER)].remove(item_of(mailbox, "carol@contoso.test"))
    services.contact_update(owner=syncing, username="carol", group="Also kept")

    run()

    assert parley_contacts(syncing) == [("bob", "Kept"), ("carol", "Also kept")]
    assert mailbox_contacts(mailbox) == [
        ("bob@contoso.test", "Bob Chen", ["Kept"]),
        ("carol@contoso.test", "Carol Diaz", ["Also kept"]),
    ]


def test_a_throttled_write_is_retried_and_nothing_is_duplicated(
    syncing, mailbox, bob, carol, settings
):
    services.contact_add(owner=syncing, username="bob")
    services.contact_add(owner=syncing, username="carol")
    mailbox.busy["CreateItem"] = 1  # bob's is refused, the task is retried
    settings.CELERY_TASK_ALWAYS_EAGER = False

    tasks.contacts_mailbox_sync.apply(args=[syncing.pk], throw=False)

    assert mailbox.operations.count("CreateItem") == 3
    assert mailbox_contacts(mailbox) == [
        ("bob@contoso.test", "Bob Chen", []),
        ("carol@contoso.test", "Carol Diaz", []),
    ]
    assert MailboxSync.objects.get(person=syncing).last_error == ""


def test_a_refused_sign_in_is_reported_and_changes_nothing(syncing, mailbox, bob):
    services.contact_add(owner=syncing, username="bob")
    mailbox.wrong_password = True

    run()

    sync = MailboxSync.objects.get(person=syncing)
    assert sync.last_error.startswith("Contacts: UnauthorizedError: Invalid credentials")
    assert sync.contacts_synced_at is None
    assert MailboxContactLink.objects.count() == 0
    assert parley_contacts(syncing) == [("bob", "")]
    mailbox.wrong_password = False

    run()

    assert mailbox_contacts(mailbox) == [("bob@contoso.test", "Bob Chen", [])]
    assert MailboxSync.objects.get(person=syncing).last_error == ""
