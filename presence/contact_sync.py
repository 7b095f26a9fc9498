"""A person's Parley contacts kept alike with a contacts folder of their own mailbox, both ways.

Design. The folder is "Parley Contacts" under the mailbox's Contacts (created when missing),
as Lync kept "Lync Contacts". Each Parley contact is one contact item there: the directory's
name, e-mail, company and title, and the contact's group as the item's category (Outlook's way
of grouping contacts; an item with several categories gives Parley the first). The privacy
relationship stays in Parley. MailboxContactLink remembers each pair as it was when last alike:
the item's ChangeKey, and when. A side has changed when its ChangeKey differs (Exchange) or the
contact was updated after that moment (Parley, Contact.updated_at); a link whose contact is
gone is a deletion in Parley, an item no longer in the folder a deletion in Exchange.

The rule for each pair:
- changed on one side only: the change is made on the other side, deletions included;
- changed on both sides: the later change wins (Contact.updated_at against the item's
  LastModifiedTime; a tie goes to Parley);
- deleted on one side and changed on the other: the change wins and the contact comes back
  where it was deleted, so nobody's edit is silently lost;
- the directory decides who a contact is: an item added in Outlook becomes a Parley contact
  when its e-mail address is an active person's (other items are left alone, untouched), and
  Parley writes the directory's name, e-mail, company and title back over edits of those.
Every Parley change goes through the contact services, so watchers move as for any edit.
Runs in a Celery task (a beat entry, after commit), never on a request. A run where nothing
changed costs five EWS requests (the folder, found by name, and its items' change keys).
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext

from directory import services as directory_services
from directory.exceptions import ServiceError
from directory.integrations import mailbox as mailboxes
from directory.models import MailboxSync, Person
from presence import services
from presence.models import Contact, MailboxContactLink

log = logging.getLogger(__name__)


@dataclass
class ContactSyncRun:
    to_mailbox: int = 0
    to_parley: int = 0
    conflicts: int = 0


def contact_fields(contact: Contact) -> mailboxes.ContactFields:
    """Return what the mailbox holds of a Parley contact."""
    person = contact.person
    return mailboxes.ContactFields(
        display_name=person.name,
        email=person.email,
        given_name=person.first_name,
        surname=person.last_name,
        company=person.company,
        job_title=person.title,
        groups=(contact.group,) if contact.group else (),
    )


def _group_of(item: mailboxes.MailboxContact) -> str:
    return item.groups[0][:100] if item.groups else ""


def _is_parley_newer(contact: Contact, item: mailboxes.MailboxContact) -> bool:
    return item.last_modified is None or contact.updated_at >= item.last_modified


class _Sync:
    def __init__(self, *, owner: Person, mailbox: mailboxes.Mailbox) -> None:
        self.owner = owner
        self.mailbox = mailbox
        self.run = ContactSyncRun()

    def _link_save(self, person: Person, version: mailboxes.ItemVersion) -> None:
        MailboxContactLink.objects.update_or_create(
            owner=self.owner,
            person=person,
            defaults={
                "item_id": version.item_id,
                "change_key": version.change_key,
                "synced_at": timezone.now(),
            },
        )

    def _push(self, contact: Contact, link: MailboxContactLink | None) -> None:
        """Write the Parley contact to the mailbox (create, or overwrite its item)."""
        fields = contact_fields(contact)
        if link is None or link.item_id not in self.versions:
            version = self.mailbox.contact_create(folder=self.folder, fields=fields)
        else:
            current = mailboxes.ItemVersion(link.item_id, self.versions[link.item_id])
            version = self.mailbox.contact_update(folder=self.folder, item=current, fields=fields)
        self._link_save(contact.person, version)
        self.run.to_mailbox += 1

    def _pull(self, item: mailboxes.MailboxContact, person: Person, contact: Contact | None):
        """Make the Parley contact what the mailbox item says (its group), then write the
        directory's fields back when the item's differ."""
        group = _group_of(item)
        if contact is None or contact.group != group:
            with transaction.atomic():
                if contact is None:
                    contact = services.contact_add(
                        owner=self.owner, username=person.username, group=group
                    )
                else:
                    contact = services.contact_update(
                        owner=self.owner, username=person.username, group=group
                    )
            self.run.to_parley += 1
        version = mailboxes.ItemVersion(item.item_id, item.change_key)
        wanted = contact_fields(contact)
        if (item.display_name, item.email, item.groups[:1]) != (
            wanted.display_name,
            wanted.email,
            wanted.groups,
        ):
            version = self.mailbox.contact_update(folder=self.folder, item=version, fields=wanted)
        self._link_save(person, version)

    def _pair(self, link, contact, item) -> None:
        """Make one linked pair alike (the rule in the module's header)."""
        owner = self.owner
        in_mailbox = link.item_id in self.versions
        mailbox_changed = item is not None
        parley_changed = contact is not None and contact.updated_at > link.synced_at
        if contact is None and not in_mailbox:
            link.delete()
        elif contact is None:
            if mailbox_changed:  # deleted in Parley, changed in the mailbox: it comes back
                self.run.conflicts += 1
                self._pull(item, link.person, None)
            else:
                self.mailbox.items_delete(folder=self.folder, item_ids=[link.item_id])
                link.delete()
                self.run.to_mailbox += 1
        elif not in_mailbox:
            if parley_changed:  # deleted in the mailbox, changed in Parley: it comes back
                self.run.conflicts += 1
                self._push(contact, None)
            else:
                with transaction.atomic():
                    services.contact_remove(owner=owner, username=contact.person.username)
                link.delete()
                self.run.to_parley += 1
        elif mailbox_changed and parley_changed:
            self.run.conflicts += 1
            if _is_parley_newer(contact, item):
                self._push(contact, link)
            else:
                self._pull(item, contact.person, contact)
        elif mailbox_changed:
            self._pull(item, contact.person, contact)
        elif parley_changed:
            self._push(contact, link)

    def sync(self) -> ContactSyncRun:
        owner = self.owner
        self.folder = self.mailbox.folder_ensure(
            address=owner.email, name=mailboxes.CONTACTS_FOLDER, kind="contacts"
        )
        self.versions = {
            v.item_id: v.change_key for v in self.mailbox.contact_versions(folder=self.folder)
        }
        links = {
            link.person_id: link
            for link in MailboxContactLink.objects.filter(owner=owner).select_related("person")
        }
        linked_items = {link.item_id: link for link in links.values()}
        contacts = {
            c.person_id: c for c in Contact.objects.filter(owner=owner).select_related("person")
        }
        changed = [
            item_id
            for item_id, change_key in self.versions.items()
            if item_id not in linked_items or linked_items[item_id].change_key != change_key
        ]
        items = {
            i.item_id: i for i in self.mailbox.contacts_get(folder=self.folder, item_ids=changed)
        }
        for person_id, link in links.items():
            try:
                self._pair(link, contacts.get(person_id), items.get(link.item_id))
            except ServiceError as error:  # e.g. an information barrier: left out, logged
                log.info("Contact %s of %s left: %s", person_id, owner.username, error)

        # Items added in the mailbox: people of the directory become contacts.
        unlinked = [i for i in items.values() if i.item_id not in linked_items]
        emails = {i.email.lower() for i in unlinked if i.email}
        by_email = {
            p.email.lower(): p
            for p in Person.objects.annotate(address=Lower("email"))
            .filter(is_active=True, address__in=emails)
            .exclude(pk=owner.pk)
        }
        taken = set(links)
        for item in unlinked:
            person = by_email.get(item.email.lower())
            if person is None or person.pk in taken:
                continue  # not someone Parley knows, or a second item for the same person
            taken.add(person.pk)
            contact = contacts.get(person.pk)
            try:
                if contact is not None and _is_parley_newer(contact, item):
                    self.run.conflicts += 1
                    self._link_save(person, mailboxes.ItemVersion(item.item_id, item.change_key))
                    self._push(contact, MailboxContactLink.objects.get(owner=owner, person=person))
                else:
                    self._pull(item, person, contact)
            except ServiceError as error:  # e.g. an information barrier: left out, logged
                log.info("Contact %s of %s not added: %s", person.username, owner.username, error)

        # Contacts added in Parley.
        for person_id, contact in contacts.items():
            if person_id not in taken:
                self._push(contact, None)
        return self.run


def contacts_mailbox_sync(*, person: Person, mailbox: mailboxes.Mailbox) -> ContactSyncRun:
    """Make the person's Parley contacts and their mailbox's contacts folder alike.

    Raises MailboxError; what was made alike before the error stays so.
    """
    run = _Sync(owner=person, mailbox=mailbox).sync()
    MailboxSync.objects.filter(person=person).update(contacts_synced_at=timezone.now())
    return run


def contacts_mailbox_people(*, person_id: int | None = None) -> list[int]:
    """Return the ids of the people whose contacts are kept alike with their mailbox."""
    return directory_services.mailbox_feature_people(feature="contact_sync", person_id=person_id)


def contacts_mailbox_sync_person(*, person_id: int) -> ContactSyncRun | None:
    """Run contacts_mailbox_sync for one person and report how it ended (see
    directory.services.mailbox_feature_run)."""
    return directory_services.mailbox_feature_run(
        feature="contact_sync",
        person_id=person_id,
        run=contacts_mailbox_sync,
        retry_text=gettext("Contacts: %(error)s, will retry."),
        error_text=gettext("Contacts: %(error)s"),
    )
