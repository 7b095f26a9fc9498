"""Reads for the XMPP gateway: external people's JIDs, who subscribes to whom."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from directory.models import Person
from federation.models import Subscription, XmppAddress
from presence.models import Contact
from presence.selectors import presence_for_watcher_many


def xmpp_jids_by_person(*, person_ids: list[int]) -> dict[int, str]:
    """Return the bare JID of each external person that has one."""
    return dict(
        XmppAddress.objects.filter(person_id__in=person_ids).values_list("person_id", "jid")
    )


@dataclass(frozen=True)
class Pair:
    subscription_id: int
    local_id: int
    local_username: str
    remote_id: int
    remote_jid: str


def _pair(subscription: Subscription) -> Pair:
    return Pair(
        subscription_id=subscription.pk,
        local_id=subscription.local_id,
        local_username=subscription.local.username,
        remote_id=subscription.remote_id,
        remote_jid=subscription.remote.xmpp_address.jid,
    )


def _subscriptions(**filters) -> list[Pair]:
    rows = Subscription.objects.filter(
        remote__xmpp_address__isnull=False, local__is_active=True, **filters
    ).select_related("local", "remote__xmpp_address")
    return [_pair(s) for s in rows.order_by("id")]


def subscription_list_watching() -> list[Pair]:
    """Return the pairs where the external person receives the Parley person's presence."""
    return _subscriptions(remote_sees_local=True)


def subscription_watching_get(*, local_username: str, remote_jid: str) -> Pair | None:
    """Return the pair if the external person may receive the Parley person's presence."""
    pairs = _subscriptions(
        remote_sees_local=True, local__username=local_username, remote__xmpp_address__jid=remote_jid
    )
    return pairs[0] if pairs else None


def subscription_list_to_probe() -> list[Pair]:
    """Return the pairs where the Parley person asked for the external person's presence."""
    return _subscriptions(is_requested=True)


def contact_list_unrequested() -> list[tuple[int, int]]:
    """Return (owner id, external person id) of Parley people's external contacts whose
    presence the gateway has not asked for yet."""
    requested = Subscription.objects.filter(
        local_id=OuterRef("owner_id"), remote_id=OuterRef("person_id"), is_requested=True
    )
    return list(
        Contact.objects.filter(
            owner__is_external=False,
            owner__is_active=True,
            person__is_external=True,
            person__xmpp_address__isnull=False,
        )
        .exclude(Exists(requested))
        .exclude(relationship="blocked")
        .values_list("owner_id", "person_id")
    )


def subscription_pair_get(*, subscription_id: int) -> Pair:
    return _pair(
        Subscription.objects.select_related("local", "remote__xmpp_address").get(pk=subscription_id)
    )


def presence_for_remote(*, local_id: int, remote_id: int) -> tuple[str, dict]:
    """Return (watch key, projection): what the external person may see of the Parley person."""
    local = Person.objects.get(pk=local_id)
    remote = Person.objects.get(pk=remote_id)
    [(key, projection)] = presence_for_watcher_many(people=[local], watcher=remote)
    return key, projection
