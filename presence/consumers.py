"""Presence on the /ws/ connection: each socket is an endpoint; presence frames.

The connection's consumer (chat.consumers.ChatConsumer) mixes this in. Each server process
also runs one ticker per event loop: it refreshes its endpoints (the heartbeat that tells
other processes it is alive) and sweeps expired endpoints and timers.
"""

import asyncio
import logging
import weakref
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _
from directory.models import Person
from presence import distribution_groups, selectors, services
from presence.apis import presence_changes

logger = logging.getLogger(__name__)
MAX_SUBSCRIBE = 500

_tickers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


async def _tick_forever() -> None:
    interval = settings.PARLEY_ENDPOINT_HEARTBEAT_SECONDS
    while True:
        await asyncio.sleep(interval)
        try:
            await database_sync_to_async(services.endpoints_heartbeat)(
                server=services.server_name()
            )
            await database_sync_to_async(services.presence_sweep)()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("presence heartbeat failed")


def ticker_ensure() -> None:
    """Start this event loop's heartbeat-and-sweep task once."""
    loop = asyncio.get_running_loop()
    if loop not in _tickers:
        _tickers[loop] = loop.create_task(_tick_forever())


def _contacts_with_presence(person: Person) -> tuple[list[tuple[int, str, dict, dict]], dict]:
    """Return my contacts with their presence, and my own presence, in one batch."""
    contacts = selectors.contact_list(owner=person)
    seen = selectors.presence_for_watcher_many(
        people=[*(c.person for c in contacts), person], watcher=person
    )
    _ignored, own = seen.pop()
    return [
        (
            c.person_id,
            level,
            {"username": c.person.username, "group": c.group, "relationship": c.relationship},
            projection,
        )
        for c, (level, projection) in zip(contacts, seen, strict=True)
    ], own


def _contact_group_levels(person: Person, skip: set[int]) -> list[tuple[int, str]]:
    """Return (id, watch level) of the members of my distribution groups not in `skip`."""
    ids = [
        pk for pk in distribution_groups.contact_group_watched_ids(owner=person) if pk not in skip
    ]
    people = list(Person.objects.filter(pk__in=ids))
    seen = selectors.presence_for_watcher_many(people=people, watcher=person)
    return [(p.pk, level) for p, (level, _) in zip(people, seen, strict=True)]


def _people_with_presence(watcher: Person, usernames: list[str]) -> list[tuple[int, str, dict]]:
    people = list(Person.objects.filter(username__in=usernames, is_active=True))
    seen = selectors.presence_for_watcher_many(people=people, watcher=watcher)
    return [(p.pk, level, projection) for p, (level, projection) in zip(people, seen, strict=True)]


def _usernames(content: dict) -> list[str]:
    users = content.get("users")
    if not isinstance(users, list) or not all(isinstance(u, str) for u in users) or not users:
        raise InvalidInput(_("users must be a non-empty list of usernames."))
    if len(users) > MAX_SUBSCRIBE:
        raise InvalidInput(
            _("At most %(MAX_SUBSCRIBE)s users per subscribe frame.")
            % {"MAX_SUBSCRIBE": MAX_SUBSCRIBE}
        )
    return list(dict.fromkeys(users))


class PresenceConsumerMixin:
    """Endpoint registration and the presence frames of DESIGN.md section 9."""

    endpoint_key: str | None = None

    async def presence_connect(self) -> tuple[list[dict], dict]:
        """Register this socket as an endpoint and watch my contacts; return my contacts with
        their presence and my own presence, for hello."""
        self.watching: dict[int, str] = {}
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        device = (query.get("device") or [""])[0][:100]
        endpoint = await database_sync_to_async(services.endpoint_open)(
            person=self.person, device=device
        )
        self.endpoint_key = endpoint.key
        ticker_ensure()
        contacts, own = await database_sync_to_async(_contacts_with_presence)(self.person)
        for person_id, level, _name, _projection in contacts:
            await self.hub.watch(self, person_id, level)
        # Members of my distribution groups, as the groups are now (followed live afterwards).
        group_members = await database_sync_to_async(_contact_group_levels)(
            self.person, {person_id for person_id, _, _, _ in contacts}
        )
        for person_id, level in group_members:
            await self.hub.watch(self, person_id, level)
        return [{**entry, "presence": projection} for _, _, entry, projection in contacts], own

    async def presence_disconnect(self) -> None:
        if self.endpoint_key is not None:
            await database_sync_to_async(services.endpoint_close)(endpoint_key=self.endpoint_key)

    async def on_presence_set(self, content: dict, ref) -> None:
        await database_sync_to_async(services.presence_set)(
            person=self.person, **presence_changes(content)
        )
        own = await database_sync_to_async(selectors.presence_for_watcher)(
            person=self.person, watcher=self.person
        )
        await self._reply(ref, {"type": "presence.update", **own})

    async def on_presence_subscribe(self, content: dict, ref) -> None:
        found = await database_sync_to_async(_people_with_presence)(
            self.person, _usernames(content)
        )
        for person_id, level, _projection in found:
            await self.hub.watch(self, person_id, level)
        for _person_id, _level, projection in found:
            await self._reply(ref, {"type": "presence.update", **projection})

    async def on_presence_unsubscribe(self, content: dict, ref) -> None:
        usernames = _usernames(content)
        ids = await database_sync_to_async(
            lambda: list(Person.objects.filter(username__in=usernames).values_list("pk", flat=True))
        )()
        for person_id in ids:
            self.hub.unwatch(self, person_id)
        await self._reply(ref, {"type": "presence.unsubscribed", "users": usernames})

    async def on_idle(self, content: dict, ref) -> None:
        is_idle = content.get("idle")
        if not isinstance(is_idle, bool):
            raise InvalidInput(_("idle must be true or false."))
        await database_sync_to_async(services.endpoint_idle)(
            endpoint_key=self.endpoint_key, is_idle=is_idle
        )
        await self._reply(ref, {"type": "idle.ack", "idle": is_idle})
