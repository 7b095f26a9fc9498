"""The XMPP gateway: an XEP-0114 component of the organisation's XMPP server (an edge).

Parley people are `username@<component domain>`. Inbound stanzas become calls to
federation.services.inbound (which use chat and presence services); refusals go back as
XMPP errors and are logged. Outbound messages come from chat's persistent outbox
(chat.services.delivery: record the attempt, send with the stable id, mark once the server
confirmed), sent whenever the stream is up: on connect, when the channel layer wakes the
gateway after a commit, and on a poll as a backstop. Parley presence reaches
external watchers through the same fan-out hub as browser sockets: each external watcher is a
socket-like object watching at the level the Parley person grants it, so it receives the
projection (external level by default; blocked and privacy mode show offline), never more.

One gateway process per component domain: two would send each queued message twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from xml.etree import ElementTree

from channels.db import database_sync_to_async
from django.conf import settings
from slixmpp import ComponentXMPP
from slixmpp.exceptions import IqError

from chat import services as chat
from directory import realtime as fanout
from directory.exceptions import Forbidden, InvalidInput, NotFound, ServiceError
from federation import realtime, selectors
from federation.services import inbound
from presence import services as presence

log = logging.getLogger(__name__)

# Parley availability (as projected for the watcher) -> XMPP show; offline -> unavailable.
AVAILABILITY_TO_SHOW = {
    "available": "",
    "busy": "dnd",
    "do-not-disturb": "dnd",
    "be-right-back": "away",
    "away": "away",
    "off-work": "xa",
}


def presence_to_xmpp(projection: dict) -> tuple[bool, str, str]:
    """Return (is_available, show, status text) for a projected presence."""
    availability = projection.get("availability", "offline")
    if availability not in AVAILABILITY_TO_SHOW:
        return False, "", ""
    custom = projection.get("custom_state") or {}
    status = projection.get("note") or custom.get("label") or ""
    return True, AVAILABILITY_TO_SHOW[availability], status


def error_condition(error: Exception) -> tuple[str, str]:
    """Return the XMPP error (condition, type) for a refusal."""
    if isinstance(error, NotFound):
        return "item-not-found", "cancel"
    if isinstance(error, Forbidden):
        if error.code == "domain_blocked":
            return "forbidden", "auth"
        return "not-allowed", "cancel"
    if isinstance(error, InvalidInput):
        if error.code == "message_too_large":
            return "policy-violation", "modify"
        return "bad-request", "modify"
    return "internal-server-error", "wait"


STANZA_ERRORS = "{urn:ietf:params:xml:ns:xmpp-stanzas}"
ORIGIN_ID = "{urn:xmpp:sid:0}origin-id"
HANDOVER_TIMEOUT = 10.0  # seconds to wait for the server's answer to the confirming ping


def stanza_error(stanza) -> tuple[str, str]:
    """Return (condition, text) of an error stanza, read from its XML.

    slixmpp's error plugin looks for <error/> in the namespace it was registered with, which
    for a component is not always the one the server used; it would then report its default
    condition (feature-not-implemented) instead of the real one.
    """
    for child in stanza.xml:
        if child.tag.endswith("}error") or child.tag == "error":
            condition, text = "", ""
            for item in child:
                if item.tag == f"{STANZA_ERRORS}text":
                    text = item.text or ""
                elif item.tag.startswith(STANZA_ERRORS) and not condition:
                    condition = item.tag[len(STANZA_ERRORS) :]
            return condition or "undefined-condition", text
    return "undefined-condition", ""


class RemoteWatcher:
    """Stands in the fan-out hub for one external person watching Parley people."""

    def __init__(self, gateway: Gateway, *, person_id: int, jid: str) -> None:
        self.gateway = gateway
        self.person_id = person_id
        self.jid = jid
        self.conversation_ids: set[int] = set()
        self.watching: dict[int, str] = {}
        self.locals: dict[str, int] = {}  # the Parley people watched: username -> person id

    async def deliver_frame(self, text: str) -> None:
        frame = json.loads(text)
        if frame.get("type") == "presence.update" and frame.get("user") in self.locals:
            self.gateway.presence_send(local=frame["user"], jid=self.jid, projection=frame)

    async def close_for(self, code: int, reason: str) -> None:
        return None

    def matches_credentials(self, *, token_id: int | None, session_key: str | None) -> bool:
        return False


class Gateway(ComponentXMPP):
    def __init__(self) -> None:
        super().__init__(
            settings.PARLEY_XMPP_COMPONENT,
            settings.PARLEY_XMPP_SECRET,
            settings.PARLEY_XMPP_HOST,
            settings.PARLEY_XMPP_PORT,
        )
        self.domain = settings.PARLEY_XMPP_COMPONENT
        self.register_plugin("xep_0199")  # answers pings; handover_confirm sends one
        # Subscriptions are Parley's to decide (federation.services.inbound), kept in the
        # database: slixmpp's in-memory roster would forget them on restart and then answer
        # the server's probes with "unsubscribed".
        self.auto_authorize = None
        self.auto_subscribe = False
        for event in ("subscribe", "subscribed", "unsubscribe", "unsubscribed"):
            self.del_event_handler(f"presence_{event}", getattr(self, f"_handle_{event}"))
        self.del_event_handler("presence_probe", self._handle_probe)
        self.del_event_handler("roster_subscription_request", self._handle_new_subscription)
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("disconnected", self.on_disconnected)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("message_error", self.on_message_error)
        self.add_event_handler("presence", self.on_presence)
        self.is_live = False
        self.is_stopping = False
        self.reconnect_delay = 1.0
        self.wake = asyncio.Event()
        self.watchers: dict[int, RemoteWatcher] = {}  # by the external person's id

    # -- connection ---------------------------------------------------------------------------

    def reschedule_connection_attempt(self):
        # slixmpp's back-off doubles up to 300 s; ours stops at PARLEY_XMPP_RECONNECT_MAX_SECONDS
        # so federation comes back soon after the XMPP server does.
        if self._current_connection_attempt is None:
            return None
        cap = settings.PARLEY_XMPP_RECONNECT_MAX_SECONDS
        self._connect_loop_wait = min(cap, self._connect_loop_wait * 2 + 1)
        log.warning(
            "XMPP server %s:%s unreachable; retrying in %.0f s",
            self.server_host,
            self.server_port,
            self._connect_loop_wait,
        )
        self._current_connection_attempt = asyncio.ensure_future(self._connect_loop())
        return self._current_connection_attempt

    async def on_session_start(self, _event) -> None:
        log.warning("XMPP gateway connected as %s", self.domain)
        self.is_live = True
        hub = await fanout.hub_get()
        for pair in await database_sync_to_async(selectors.subscription_list_watching)():
            await self.watch(hub, pair)
        for pair in await database_sync_to_async(selectors.subscription_list_to_probe)():
            self.send_presence(
                pto=pair.remote_jid, pfrom=self.jid_of(pair.local_username), ptype="probe"
            )
        self.wake.set()

    async def on_disconnected(self, reason) -> None:
        # Fired only for a stream that was opened: a refused TCP connection goes through
        # reschedule_connection_attempt instead.
        was_live, self.is_live = self.is_live, False
        closed = await database_sync_to_async(inbound.external_endpoints_close)()
        if self.is_stopping:
            return
        if was_live:
            self.reconnect_delay = 1.0
        else:  # the server closed the stream before accepting us (wrong secret or domain?)
            self.reconnect_delay = min(
                settings.PARLEY_XMPP_RECONNECT_MAX_SECONDS, self.reconnect_delay * 2
            )
            reason = reason or "the server refused the component handshake; check the secret"
        log.warning(
            "XMPP stream lost (%s); %d external endpoints closed; reconnecting in %.0f s",
            reason,
            closed,
            self.reconnect_delay,
        )
        await asyncio.sleep(self.reconnect_delay)
        if not self.is_stopping:
            self.connect()

    def jid_of(self, username: str) -> str:
        return f"{username}@{self.domain}"

    # -- inbound ------------------------------------------------------------------------------

    def refuse(self, stanza, error: Exception, *, what: str) -> None:
        condition, kind = error_condition(error)
        log.warning("refused %s from %s to %s: %s", what, stanza["from"], stanza["to"], error)
        reply = stanza.reply(clear=True)
        reply["id"] = stanza["id"]  # an error carries the id of the stanza it answers
        reply["type"] = "error"
        error_element = reply["error"]
        error_element["type"] = kind
        error_element["text"] = getattr(error, "detail", "") or condition
        # Set by hand: slixmpp keeps its default for conditions it does not list
        # (policy-violation).
        for child in list(error_element.xml):
            if child.tag.startswith(STANZA_ERRORS) and not child.tag.endswith("}text"):
                error_element.xml.remove(child)
        error_element.xml.insert(0, ElementTree.Element(f"{STANZA_ERRORS}{condition}"))
        reply.send()

    async def on_message(self, msg) -> None:
        if msg["type"] not in ("chat", "normal") or not msg["body"]:
            return
        try:
            await database_sync_to_async(inbound.message_receive)(
                sender_jid=msg["from"].bare,
                domain=msg["from"].domain,
                username=msg["to"].user,
                body=msg["body"],
                stanza_id=msg["id"],
            )
        except ServiceError as error:
            self.refuse(msg, error, what="message")
        except Exception as error:
            log.exception("inbound message from %s failed", msg["from"])
            self.refuse(msg, error, what="message")

    async def on_message_error(self, msg) -> None:
        condition, text = stanza_error(msg)
        detail = f"Not delivered to {msg['from'].bare}: {condition}" + (
            f" ({text})" if text else ""
        )
        await database_sync_to_async(chat.message_delivery_fail)(
            delivery_key=msg["id"], error=detail
        )

    async def on_presence(self, pres) -> None:
        kind = pres["type"]
        sender, local = pres["from"], pres["to"].user
        try:
            if kind == "subscribe":
                subscription = await database_sync_to_async(inbound.subscription_request_receive)(
                    sender_jid=sender.bare, domain=sender.domain, username=local
                )
                self.send_presence(pto=sender.bare, pfrom=self.jid_of(local), ptype="subscribed")
                pair = await database_sync_to_async(selectors.subscription_pair_get)(
                    subscription_id=subscription.pk
                )
                await self.watch(await fanout.hub_get(), pair)
                self.wake.set()  # the new contact gets our subscription request
            elif kind in ("subscribed", "unsubscribe", "unsubscribed"):
                await database_sync_to_async(inbound.subscription_answer_receive)(
                    sender_jid=sender.bare, domain=sender.domain, username=local, kind=kind
                )
                if kind == "unsubscribe":
                    self.send_presence(
                        pto=sender.bare, pfrom=self.jid_of(local), ptype="unsubscribed"
                    )
                    await self.unwatch(remote_jid=sender.bare, local=local)
            elif kind == "probe":
                await self.answer_probe(pres)
            elif kind != "error":
                await database_sync_to_async(inbound.external_presence_receive)(
                    sender_jid=sender.bare,
                    resource=sender.resource,
                    domain=sender.domain,
                    is_available=kind != "unavailable",
                    show=pres["show"] or "",
                    status=pres["status"] or "",
                )
        except ServiceError as error:
            if kind in ("subscribe", "probe"):
                self.refuse(pres, error, what=f"presence {kind}")
            else:
                log.warning("ignored presence %s from %s: %s", kind, sender, error)

    async def answer_probe(self, pres) -> None:
        local, jid = pres["to"].user, pres["from"].bare
        await database_sync_to_async(inbound.domain_check)(domain=pres["from"].domain)
        pair = await database_sync_to_async(selectors.subscription_watching_get)(
            local_username=local, remote_jid=jid
        )
        if pair is None:
            self.send_presence(pto=jid, pfrom=self.jid_of(local), ptype="unsubscribed")
            return
        _, projection = await database_sync_to_async(selectors.presence_for_remote)(
            local_id=pair.local_id, remote_id=pair.remote_id
        )
        self.presence_send(local=local, jid=jid, projection=projection)

    # -- presence out -------------------------------------------------------------------------

    async def watch(self, hub, pair: selectors.Pair) -> None:
        """Subscribe the external person's stand-in to the Parley person's presence."""
        watcher = self.watchers.get(pair.remote_id)
        if watcher is None:
            watcher = RemoteWatcher(self, person_id=pair.remote_id, jid=pair.remote_jid)
            self.watchers[pair.remote_id] = watcher
            await hub.attach(watcher)
        watcher.locals[pair.local_username] = pair.local_id
        key, projection = await database_sync_to_async(selectors.presence_for_remote)(
            local_id=pair.local_id, remote_id=pair.remote_id
        )
        await hub.watch(watcher, pair.local_id, key)
        self.presence_send(local=pair.local_username, jid=pair.remote_jid, projection=projection)

    async def unwatch(self, *, remote_jid: str, local: str) -> None:
        """Stop sending the Parley person's presence to the external person."""
        hub = await fanout.hub_get()
        for watcher in self.watchers.values():
            if watcher.jid == remote_jid and local in watcher.locals:
                hub.unwatch(watcher, watcher.locals.pop(local))

    def presence_send(self, *, local: str, jid: str, projection: dict) -> None:
        if not self.is_live:
            return
        is_available, show, status = presence_to_xmpp(projection)
        if not is_available:
            self.send_presence(pto=jid, pfrom=self.jid_of(local), ptype="unavailable")
            return
        self.send_presence(
            pto=jid, pfrom=self.jid_of(local), pshow=show or None, pstatus=status or None
        )

    # -- outbound -----------------------------------------------------------------------------

    def message_stanza(self, item: chat.PendingDelivery, jid: str):
        stanza = self.make_message(
            mto=jid, mfrom=self.jid_of(item.sender_username), mbody=item.body, mtype="chat"
        )
        # The same id on every attempt: a bounced error finds its message, and a copy sent
        # again after a crash can be recognised and dropped by the receiving side (the stanza
        # id, and XEP-0359's origin-id, which servers and clients use to deduplicate).
        stanza["id"] = item.delivery_key
        ElementTree.SubElement(stanza.xml, ORIGIN_ID, {"id": item.delivery_key})
        return stanza

    async def handover_confirm(self) -> None:
        """Return once the XMPP server has taken every stanza sent before this call.

        stanza.send() only queues bytes; a component stream has no per-stanza acknowledgement.
        The server handles a stream's stanzas in order, so its answer to a ping sent after them
        (routed back to this component: a result, or an error, both count) proves it received
        them. Raises IqTimeout when it does not answer: the batch stays unmarked and goes out
        again, with the same ids.
        """
        with contextlib.suppress(IqError):
            await self.plugin["xep_0199"].send_ping(
                self.domain, ifrom=self.domain, timeout=HANDOVER_TIMEOUT
            )

    async def outbox_send(self) -> None:
        """Hand every pending message to the XMPP server; ask new external contacts for presence.

        Record, send, confirm, mark (chat.services.delivery says why): a crash anywhere before
        the mark sends the batch again on restart, each stanza with the id it had.
        """
        while self.is_live:
            batch = await database_sync_to_async(chat.message_delivery_attempt)()
            if not batch:
                break
            jids = await database_sync_to_async(selectors.xmpp_jids_by_person)(
                person_ids=[item.recipient_id for item in batch]
            )
            sent: list[int] = []
            for item in batch:
                if not self.is_live:
                    return  # recorded but unsent: sent on the next connection
                jid = jids.get(item.recipient_id)
                if jid is None:
                    await database_sync_to_async(chat.message_delivery_fail)(
                        delivery_key=item.delivery_key,
                        error="Not delivered: the recipient has no XMPP address.",
                    )
                    continue
                self.message_stanza(item, jid).send()
                sent.append(item.delivery_id)
            if sent:
                await self.handover_confirm()
                await database_sync_to_async(chat.message_delivery_mark_sent)(delivery_ids=sent)
            if len(batch) < 200:
                break
        for owner_id, person_id in await database_sync_to_async(
            selectors.contact_list_unrequested
        )():
            subscription = await database_sync_to_async(inbound.subscription_for_contact)(
                owner_id=owner_id, person_id=person_id
            )
            pair = await database_sync_to_async(selectors.subscription_pair_get)(
                subscription_id=subscription.pk
            )
            self.send_presence(
                pto=pair.remote_jid, pfrom=self.jid_of(pair.local_username), ptype="subscribe"
            )
            await database_sync_to_async(inbound.subscription_requested)(
                subscription_id=subscription.pk
            )


# -- the process ----------------------------------------------------------------------------


async def _outbox_loop(gateway: Gateway) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(gateway.wake.wait(), timeout=settings.PARLEY_XMPP_POLL_SECONDS)
        gateway.wake.clear()
        try:
            await database_sync_to_async(chat.message_delivery_expire)()
            if gateway.is_live:
                await gateway.outbox_send()
        except Exception:
            log.exception("federation outbox: will retry")
            await asyncio.sleep(1.0)


async def _wakeup_loop(gateway: Gateway) -> None:
    while True:
        try:
            async for _ in realtime.outbound_wakeups():
                gateway.wake.set()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("federation wake-ups lost; the poll still runs")
            await asyncio.sleep(5.0)


async def _heartbeat_loop() -> None:
    # External people's endpoints live on this process: keep them from expiring.
    while True:
        await asyncio.sleep(settings.PARLEY_ENDPOINT_HEARTBEAT_SECONDS)
        try:
            await database_sync_to_async(presence.endpoints_heartbeat)(
                server=presence.server_name()
            )
        except Exception:
            log.exception("federation endpoint heartbeat failed")


async def gateway_run(stop: asyncio.Event) -> None:
    """Run the gateway until stop is set: connect, reconnect, send, receive."""
    gateway = Gateway()
    gateway.connect()
    tasks = [
        asyncio.create_task(_outbox_loop(gateway)),
        asyncio.create_task(_wakeup_loop(gateway)),
        asyncio.create_task(_heartbeat_loop()),
    ]
    try:
        await stop.wait()
    finally:
        gateway.is_stopping = True
        for task in tasks:
            task.cancel()
        if gateway.is_live:
            await gateway.disconnect(wait=2.0)
        await database_sync_to_async(inbound.external_endpoints_close)()
