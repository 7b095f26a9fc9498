"""What the XMPP gateway does to Parley: external people, their messages, subscriptions and
presence. The gateway (an edge) calls these; they call chat and presence services.

External people. A JID from a partner domain becomes a Person with is_external on first
contact: username = the bare JID (e.g. "bob@partner.example"; JIDs compare in lower case) when
it fits Django's username rules and no one holds it, else "xmpp-" + 16 hex digits of its
SHA-256; display name = the bare JID; no usable password (they never sign in to Parley). The
XmppAddress row is the mapping both ways.

Subscriptions policy. An external person who subscribes to a Parley person is authorised at
once: what they then see is decided by the privacy projection (the "external" level, or the
level the Parley person grants them as a contact; blocked and privacy mode show offline), so
authorising discloses nothing the relationship does not allow. The Parley person gets the
external person as a contact (relationship external) and the gateway asks for their presence
in return.
"""

import hashlib
import re

from django.conf import settings
from django.db import transaction

from chat import services as chat
from chat.models import Message
from directory.exceptions import Forbidden, InvalidInput, NotFound
from directory.exceptions import sentence_gettext as _
from directory.models import FederationPartner, Person
from federation.models import Subscription, XmppAddress
from presence import services as presence
from presence.models import Availability, Contact, Endpoint, Relationship

USERNAME_OK = re.compile(r"^[\w.@+-]{1,150}\Z")


def domain_check(*, domain: str) -> None:
    """Raise Forbidden unless the domain may federate (allowed, or open federation)."""
    status = (
        FederationPartner.objects.filter(domain=domain.lower())
        .values_list("status", flat=True)
        .first()
    )
    if status == FederationPartner.Status.BLOCKED:
        raise Forbidden(
            _("The domain %(domain)s is blocked.") % {"domain": domain}, code="domain_blocked"
        )
    if status is None and not settings.PARLEY_XMPP_OPEN_FEDERATION:
        raise Forbidden(
            _("The domain %(domain)s is not a federation partner.") % {"domain": domain},
            code="domain_not_allowed",
        )


def _local_person(username: str) -> Person:
    person = Person.objects.filter(username=username, is_active=True, is_external=False).first()
    if person is None:
        raise NotFound(
            _("No Parley person named %(username)s.") % {"username": username},
            code="person_not_found",
        )
    return person


@transaction.atomic
def external_person_get_or_create(*, jid: str) -> Person:
    """Return the external Person of a bare JID, creating them on first contact."""
    jid = jid.lower()
    address = XmppAddress.objects.select_related("person").filter(jid=jid).first()
    if address is not None:
        return address.person
    username = jid
    if not USERNAME_OK.match(username) or Person.objects.filter(username=username).exists():
        username = "xmpp-" + hashlib.sha256(jid.encode()).hexdigest()[:16]
    person, _ignored = Person.objects.get_or_create(
        username=username, defaults={"display_name": jid, "is_external": True}
    )
    if person.has_usable_password():
        person.set_unusable_password()
        person.save(update_fields=["password"])
    _ignored, domain = jid.rsplit("@", 1) if "@" in jid else ("", jid)
    XmppAddress.objects.create(person=person, jid=jid, domain=domain)
    return person


def _body_check(body: str) -> None:
    size = len(body.encode("utf-8"))
    if size > settings.PARLEY_MESSAGE_MAX_BYTES:
        raise InvalidInput(
            _("The message is %(size)s bytes; the limit is %(PARLEY_MESSAGE_MAX_BYTES)s.")
            % {"size": size, "PARLEY_MESSAGE_MAX_BYTES": settings.PARLEY_MESSAGE_MAX_BYTES},
            code="message_too_large",
        )
    if not body.strip():
        raise InvalidInput(_("The message has no text."), code="empty_message")


@transaction.atomic
def message_receive(
    *, sender_jid: str, domain: str, username: str, body: str, stanza_id: str
) -> Message:
    """Store a chat message from an external JID to a Parley person (the one message path).

    Everything is checked before anything is written: a refused stanza stores nothing.
    """
    domain_check(domain=domain)
    recipient = _local_person(username)
    _body_check(body)
    sender = external_person_get_or_create(jid=sender_jid)
    conversation, _ignored = chat.conversation_direct_get_or_create(person=sender, other=recipient)
    client_id = f"xmpp:{stanza_id}"[:64] if stanza_id else None
    message, _ignored = chat.message_post(
        sender=sender, conversation_id=conversation.pk, body=body, client_id=client_id
    )
    return message


def _subscription(local: Person, remote: Person) -> Subscription:
    subscription, _ignored = Subscription.objects.select_for_update().get_or_create(
        local=local, remote=remote
    )
    return subscription


@transaction.atomic
def subscription_request_receive(*, sender_jid: str, domain: str, username: str) -> Subscription:
    """An external person asks for a Parley person's presence: authorise (policy above)."""
    domain_check(domain=domain)
    local = _local_person(username)
    remote = external_person_get_or_create(jid=sender_jid)
    subscription = _subscription(local, remote)
    subscription.remote_sees_local = True
    subscription.save()
    if not Contact.objects.filter(owner=local, person=remote).exists():
        presence.contact_add(
            owner=local, username=remote.username, relationship=Relationship.EXTERNAL
        )
    return subscription


@transaction.atomic
def subscription_answer_receive(
    *, sender_jid: str, domain: str, username: str, kind: str
) -> Subscription | None:
    """Apply subscribed / unsubscribe / unsubscribed from an external person."""
    domain_check(domain=domain)
    local = _local_person(username)
    address = XmppAddress.objects.select_related("person").filter(jid=sender_jid.lower()).first()
    if address is None:
        return None
    subscription = _subscription(local, address.person)
    if kind == "subscribed":
        subscription.local_sees_remote = True
    elif kind == "unsubscribed":
        subscription.local_sees_remote = False
    elif kind == "unsubscribe":
        subscription.remote_sees_local = False
    subscription.save()
    return subscription


def subscription_requested(*, subscription_id: int) -> None:
    """Record that the gateway sent our subscription request."""
    Subscription.objects.filter(pk=subscription_id).update(is_requested=True)


@transaction.atomic
def subscription_for_contact(*, owner_id: int, person_id: int) -> Subscription:
    """Return the subscription row for a Parley person's external contact, creating it."""
    subscription, _ignored = Subscription.objects.get_or_create(
        local_id=owner_id, remote_id=person_id
    )
    return subscription


# XMPP show -> the availability an external person publishes in Parley.
SHOW_TO_AVAILABILITY = {
    "": "",  # plain available: Parley's machine state, i.e. available
    "chat": "",
    "away": Availability.AWAY,
    "xa": Availability.OFF_WORK,
    "dnd": Availability.DO_NOT_DISTURB,
}


@transaction.atomic
def external_presence_receive(
    *, sender_jid: str, resource: str, domain: str, is_available: bool, show: str, status: str
) -> Person | None:
    """Apply an external person's presence: each XMPP resource is an endpoint of theirs on
    this gateway process, so they go offline with their last resource, or with the gateway."""
    domain_check(domain=domain)
    address = XmppAddress.objects.select_related("person").filter(jid=sender_jid.lower()).first()
    if address is None:
        return None
    person = address.person
    device = f"xmpp/{resource}"[:100]
    endpoint = Endpoint.objects.filter(
        person=person, device=device, server=presence.server_name()
    ).first()
    if not is_available:
        if endpoint is not None:
            presence.endpoint_close(endpoint_key=endpoint.key)
        return person
    if endpoint is None:
        presence.endpoint_open(person=person, device=device)
    presence.presence_set(
        person=person, availability=SHOW_TO_AVAILABILITY.get(show, ""), note=status[:500]
    )
    return person


def external_endpoints_close() -> int:
    """Take every external person offline whose presence came through this gateway process
    (the gateway lost its XMPP server, or is stopping)."""
    keys = list(
        Endpoint.objects.filter(
            server=presence.server_name(), person__is_external=True
        ).values_list("key", flat=True)
    )
    for key in keys:
        presence.endpoint_close(endpoint_key=key)
    return len(keys)
