"""A real slixmpp client for the tests, on its own thread and event loop, that keeps every
stanza it receives (as plain dicts) until a test takes it."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import uuid

import pytest
import slixmpp

TIMEOUT = 15.0


STANZA_ERRORS = "{urn:ietf:params:xml:ns:xmpp-stanzas}"


def _error(stanza) -> str:
    # Read from the XML: slixmpp reports conditions it does not list (policy-violation) as
    # feature-not-implemented.
    for child in stanza.xml:
        if child.tag.endswith("}error"):
            for item in child:
                if item.tag.startswith(STANZA_ERRORS) and not item.tag.endswith("}text"):
                    return item.tag[len(STANZA_ERRORS) :]
    return ""


def _origin_id(stanza) -> str:
    for child in stanza.xml:
        if child.tag == "{urn:xmpp:sid:0}origin-id":
            return child.get("id", "")
    return ""


def _message(msg) -> dict:
    return {
        "kind": "message",
        "type": msg["type"],
        "from": str(msg["from"]),
        "to": str(msg["to"]),
        "id": msg["id"],
        "body": msg["body"],
        "origin_id": _origin_id(msg),
        "error": _error(msg),
    }


def _presence(pres) -> dict:
    return {
        "kind": "presence",
        "type": pres["type"],
        "from": str(pres["from"]),
        "to": str(pres["to"]),
        "id": pres["id"],
        "show": pres["show"],
        "status": pres["status"],
        "error": _error(pres),
    }


class XmppClient:
    def __init__(self, jid: str, password: str, port: int, *, auto_authorize: bool = True):
        self.jid = jid
        self.received: queue.Queue[dict] = queue.Queue()
        self.unread: list[dict] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = port
        self.password = password
        self.auto_authorize = auto_authorize
        self.xmpp: slixmpp.ClientXMPP | None = None
        self.thread = threading.Thread(target=self._run, name=f"xmpp {jid}", daemon=True)
        self.thread.start()
        if not self.ready.wait(TIMEOUT):
            pytest.fail(f"{jid} could not log in to Prosody on port {port}")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)  # slixmpp binds to the loop current at creation
        self.xmpp = slixmpp.ClientXMPP(
            self.jid,
            self.password,
            plugin_config={"feature_mechanisms": {"unencrypted_scram": True}},
        )
        self.xmpp.enable_plaintext = True
        self.xmpp.enable_starttls = False
        self.xmpp.enable_direct_tls = False
        self.xmpp.auto_authorize = self.auto_authorize
        self.xmpp.auto_subscribe = False
        self.xmpp.add_event_handler("session_start", self._on_start)
        self.xmpp.add_event_handler("message", lambda m: self.received.put(_message(m)))
        self.xmpp.add_event_handler("message_error", lambda m: self.received.put(_message(m)))
        self.xmpp.add_event_handler("presence", lambda p: self.received.put(_presence(p)))
        self.xmpp.connect(host="127.0.0.1", port=self.port)
        self.loop.run_forever()

    async def _on_start(self, _event) -> None:
        # Asking for the roster makes this an "interested resource": the server then pushes
        # roster changes and subscription answers to it.
        await self.xmpp.get_roster()
        self.xmpp.send_presence()
        self.ready.set()

    def _call(self, function, *args, **kwargs):
        done: queue.Queue = queue.Queue()

        def run():
            try:
                done.put((True, function(*args, **kwargs)))
            except Exception as error:
                done.put((False, error))

        self.loop.call_soon_threadsafe(run)
        ok, value = done.get(timeout=TIMEOUT)
        if not ok:
            raise value
        return value

    def message_send(self, to: str, body: str) -> str:
        """Send a chat message; return its stanza id."""
        stanza_id = uuid.uuid4().hex

        def send():
            msg = self.xmpp.make_message(mto=to, mbody=body, mtype="chat")
            msg["id"] = stanza_id
            msg.send()

        self._call(send)
        return stanza_id

    def presence_send(self, **kwargs) -> None:
        self._call(self.xmpp.send_presence, **kwargs)

    def roster_wait(self, jid: str, subscription: set[str], *, timeout: float = TIMEOUT) -> str:
        """Wait until the server's roster shows this subscription state with jid."""
        deadline = time.monotonic() + timeout
        while True:
            state = self._call(lambda: self.xmpp.client_roster[jid]["subscription"])
            if state in subscription:
                return state
            if time.monotonic() > deadline:
                pytest.fail(f"{self.jid}'s roster has {jid} as {state!r}, not {subscription}")
            time.sleep(0.1)

    def take(self, where, *, what: str, timeout: float = TIMEOUT) -> dict:
        """Return (and remove) the first stanza matching where; keep the others."""
        for index, stanza in enumerate(self.unread):
            if where(stanza):
                return self.unread.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                stanza = self.received.get(timeout=max(0.01, remaining))
            except queue.Empty:
                if remaining <= 0:
                    pytest.fail(f"{self.jid} got no {what} within {timeout} s; got {self.unread}")
                continue
            if where(stanza):
                return stanza
            self.unread.append(stanza)

    def nothing(self, where, *, seconds: float) -> None:
        """Assert that no matching stanza arrives for a while."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                stanza = self.received.get(timeout=0.1)
            except queue.Empty:
                continue
            assert not where(stanza), f"{self.jid} got an unexpected {stanza}"
            self.unread.append(stanza)

    def close(self) -> None:
        if self.thread.is_alive():

            async def stop():
                await self.xmpp.disconnect(wait=1.0)
                # Finish slixmpp's own tasks here, or they complain when collected later.
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                self.loop.stop()

            self.loop.call_soon_threadsafe(lambda: asyncio.ensure_future(stop()))
            self.thread.join(timeout=5)
