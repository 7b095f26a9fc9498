"""The WebSocket edge: /ws/ speaks the frames of DESIGN.md section 9.

Thin by rule: validate a frame, call one service or selector through
database_sync_to_async, turn refusals into `error` frames. A bad frame never closes the
socket; only a frame above the hard size limit does (1009), as does sign-out (4401).
"""

import logging
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils import translation

from chat import realtime, selectors, services
from chat.committer import Overloaded, committer_get
from chat.serializers import conversation_to_dict, message_to_dict
from directory import realtime as fanout
from directory.exceptions import ServiceError, database_unavailable, detail_text
from directory.exceptions import sentence_gettext as _
from directory.input_screening import frame_decode
from directory.locale import language_choose
from directory.serializers import person_summary
from directory.socket_access import AccessEnded, SocketAccessMixin
from presence.consumers import PresenceConsumerMixin

logger = logging.getLogger(__name__)

CLOSE_TOO_BIG = 1009
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class FrameError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _int_field(content: dict, name: str, *, minimum: int = 0) -> int:
    value = content.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FrameError(
            "invalid",
            _("%(name)s must be an integer >= %(minimum)s.") % {"name": name, "minimum": minimum},
        )
    return value


def _hello(person_id: int) -> dict:
    participations = selectors.conversation_list_for_person(person_id=person_id)
    return {
        "type": "hello",
        "conversations": [
            conversation_to_dict(
                p.conversation,
                members=p.conversation.active_members,
                member_count=p.member_count,
                participation=p,
            )
            for p in participations
        ],
    }


def _sync(*, person, conversation_id: int, after_seq: int, limit: int) -> dict:
    participation = selectors.participation_get(
        person_id=person.pk, conversation_id=conversation_id
    )
    messages = selectors.message_list_after(
        participant=participation, after_seq=after_seq, limit=limit + 1
    )
    services.history_view_record(
        reader=person,
        participation=participation,
        messages=messages[:limit],
        is_backward=False,
    )
    return {
        "type": "sync.batch",
        "conversation": conversation_id,
        "messages": [
            message_to_dict(m, visible_after_seq=participation.visible_after_seq)
            for m in messages[:limit]
        ],
        "has_more": len(messages) > limit,
        "last_seq": participation.conversation.last_seq,
    }


class ChatConsumer(SocketAccessMixin, PresenceConsumerMixin, AsyncWebsocketConsumer):
    """One browser tab or program connected to /ws/."""

    async def dispatch(self, message) -> None:
        # Channels' dispatch runs close_old_connections on the shared database thread before
        # every event (a thread hop per frame and per broadcast). Every database call of this
        # consumer runs in database_sync_to_async (which closes its thread's connections
        # before and after) or on the committer's threads (likewise per batch), so no
        # connection is left for that hop to close: it is skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        refusal = self.scope.get("parley_refusal")
        if refusal is not None:
            await self.close(code=refusal[0])
            return
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.person = user
        self.person_id = user.pk
        # Error frames' `detail` in the person's language, else the browser's (the upgrade
        # request's Accept-Language), else the organisation's default; `code` stays English.
        accept = dict(self.scope.get("headers", [])).get(b"accept-language", b"")
        self.language = await database_sync_to_async(language_choose)(
            person=user, accept_language=accept.decode("latin-1")
        )
        self.token_id = self.scope.get("parley_token_id")
        self.access_start()
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.conversation_ids: set[int] = set()
        self.allowance = float(settings.PARLEY_WS_RATE_BURST)
        self.allowance_at = time.monotonic()
        self.hub = None
        self.conversation_ids = set(
            await database_sync_to_async(selectors.conversation_ids_for_person)(
                person_id=self.person_id
            )
        )
        await self.accept()
        # Attach before reading the state for hello: whatever commits after that read is
        # broadcast to us, whatever committed before is in hello's last_seq values.
        self.watching: dict[int, str] = {}
        # Frames broadcast while we connect wait until hello has gone: hello comes first.
        self.held_frames: list[str] | None = []
        self.hub = await fanout.hub_get()
        await self.hub.attach(self)
        contacts, own_presence = await self.presence_connect()
        hello = await database_sync_to_async(_hello)(self.person_id)
        hello["user"] = person_summary(user)
        hello["presence"] = own_presence
        hello["contacts"] = contacts
        await self.send(text_data=realtime.frame(hello))
        held, self.held_frames = self.held_frames, None
        for text in held:
            await self.deliver_frame(text)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "hub", None) is not None:
            self.hub.detach(self)
            await self.presence_disconnect()

    # -- what the hub calls ----------------------------------------------------------------

    async def deliver_frame(self, text: str) -> None:
        if self.held_frames is not None:
            self.held_frames.append(text)
            return
        # Straight to the ASGI send: this runs once per socket per broadcast.
        await self.base_send({"type": "websocket.send", "text": text})

    async def close_for(self, code: int, reason: str) -> None:
        await self.close(code=code)

    def matches_credentials(self, *, token_id: int | None, session_key: str | None) -> bool:
        if token_id is None and session_key is None:
            return True
        if token_id is not None and token_id == self.token_id:
            return True
        return session_key is not None and session_key == self.session_key

    # -- frames from the client ------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        limit = settings.PARLEY_WS_MAX_FRAME_BYTES
        translation.activate(self.language)
        if bytes_data is not None:
            if len(bytes_data) > limit:
                await self.close(code=CLOSE_TOO_BIG)
                return
            if not self._rate_allows():
                await self._error(None, "rate_limited", _("Too many frames; slow down."))
            else:
                await self._error(None, "binary_not_supported", _("Send JSON text frames."))
            return
        text = text_data or ""
        if len(text) > limit or len(text.encode("utf-8")) > limit:
            await self.close(code=CLOSE_TOO_BIG)
            return
        # Every frame counts against the rate, junk included, so junk cannot flood.
        is_allowed = self._rate_allows()
        # NUL, lone surrogates, absurd nesting and non-JSON are refused here, for every frame.
        decoded = frame_decode(text)
        content, ref = decoded.content, decoded.ref
        if not is_allowed:
            await self._error(
                ref, "rate_limited", _("Too many frames; slow down and retry in a moment.")
            )
            return
        if content is None:
            await self._error(ref, decoded.code, decoded.detail)
            return
        frame_type = content.get("type")
        handler = self.HANDLERS.get(frame_type) if isinstance(frame_type, str) else None
        if handler is None:
            await self._error(
                ref, "unknown_type", _("Unknown frame type %(type)r.") % {"type": frame_type}
            )
            return
        try:
            # Data frames are checked against the socket's credentials in their own database
            # work (FRAMES_CHECKED_BY_HANDLER); the others here. If deactivated or the token
            # ended, the socket is closed and the frame dropped.
            if self.is_access_ended:
                return
            if frame_type in self.FRAMES_CHECKED_BY_HANDLER or await self.access_allows(frame_type):
                await handler(self, content, ref)
        except AccessEnded as exc:
            await self.access_end(exc.reason)
        except FrameError as exc:
            await self._error(ref, exc.code, exc.detail)
        except ServiceError as exc:
            # Some refusals say more than code and detail (recipient_offline: who is offline).
            await self._reply(
                ref,
                {
                    "type": "error",
                    "code": exc.code,
                    # in this socket's language, wherever the refusal was made
                    "detail": detail_text(exc.detail),
                    **getattr(exc, "fields", {}),
                },
            )
        except Exception as exc:
            outage = database_unavailable(exc)
            if outage is None:
                logger.exception("frame %s failed", frame_type)
                await self._error(
                    ref, "server_error", _("Parley hit an internal error; it was logged.")
                )
                return
            logger.warning("frame %s: database unavailable: %s", frame_type, exc)
            await self._reply(
                ref,
                {
                    "type": "error",
                    "code": outage.code,
                    "detail": detail_text(outage.detail),
                    "retry_after_ms": outage.retry_after_ms,
                },
            )

    def _rate_allows(self) -> bool:
        now = time.monotonic()
        rate, burst = settings.PARLEY_WS_RATE_PER_SECOND, settings.PARLEY_WS_RATE_BURST
        self.allowance = min(burst, self.allowance + (now - self.allowance_at) * rate)
        self.allowance_at = now
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True

    async def _reply(self, ref, payload: dict) -> None:
        if ref is not None:
            payload["ref"] = ref
        try:
            await self.send(text_data=realtime.frame(payload))
        except Exception:  # the client left before its reply; what it sent is already stored
            logger.debug("reply to a closed socket dropped", exc_info=True)

    async def _error(self, ref, code: str, detail: str) -> None:
        # The detail in this socket's language, wherever the refusal was made.
        await self._reply(ref, {"type": "error", "code": code, "detail": detail_text(detail)})

    async def _ack(self, ref, message) -> None:
        await self._reply(
            ref,
            {
                "type": "message.ack",
                "id": message.pk,
                "seq": message.seq,
                "conversation": message.conversation_id,
                "client_id": message.client_id,
            },
        )

    async def on_message_send(self, content: dict, ref) -> None:
        conversation_id = _int_field(content, "conversation", minimum=1)
        client_id = content.get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            raise FrameError("invalid", _("client_id must be a string."))
        # Group commit (chat/committer.py): acked only once the batch holding it committed.
        try:
            message, _created = await committer_get().post(
                access=self.access_credentials,
                sender=self.person,
                conversation_id=conversation_id,
                body=content.get("body"),
                client_id=client_id,
                reply_to=content.get("reply_to"),
            )
        except Overloaded as exc:
            await self._overloaded(ref, exc)
            return
        await self._ack(ref, message)

    async def on_message_edit(self, content: dict, ref) -> None:
        # Edits and deletes share the posts' writer (and its bound) instead of the one
        # database thread every other call of the process uses.
        try:
            message = await committer_get().call(
                services.message_edit,
                access=self.access_credentials,
                editor=self.person,
                message_id=_int_field(content, "id", minimum=1),
                body=content.get("body"),
            )
        except Overloaded as exc:
            await self._overloaded(ref, exc)
            return
        await self._ack(ref, message)

    async def on_message_delete(self, content: dict, ref) -> None:
        try:
            message = await committer_get().call(
                services.message_delete,
                access=self.access_credentials,
                actor=self.person,
                message_id=_int_field(content, "id", minimum=1),
            )
        except Overloaded as exc:
            await self._overloaded(ref, exc)
            return
        await self._ack(ref, message)

    async def _overloaded(self, ref, exc: Overloaded) -> None:
        await self._reply(
            ref,
            {
                "type": "error",
                "code": exc.code,
                "detail": detail_text(exc.detail),
                "retry_after_ms": exc.retry_after_ms,
            },
        )

    async def on_sync(self, content: dict, ref) -> None:
        conversation_id = _int_field(content, "conversation", minimum=1)
        after_seq = _int_field(content, "after_seq") if "after_seq" in content else 0
        limit = _int_field(content, "limit", minimum=1) if "limit" in content else None
        limit = min(limit or settings.PARLEY_SYNC_BATCH, settings.PARLEY_SYNC_BATCH)
        batch = await self.access_call(
            _sync,
            person=self.person,
            conversation_id=conversation_id,
            after_seq=after_seq,
            limit=limit,
        )
        await self._reply(ref, batch)

    async def on_typing(self, content: dict, ref) -> None:
        conversation_id = _int_field(content, "conversation", minimum=1)
        if conversation_id not in self.conversation_ids:
            raise FrameError(
                "conversation_not_found",
                _("Conversation %(conversation_id)s does not exist or you are not in it.")
                % {"conversation_id": conversation_id},
            )
        await realtime.typing_send(person=self.person, conversation_id=conversation_id)

    async def on_read(self, content: dict, ref) -> None:
        conversation_id = _int_field(content, "conversation", minimum=1)
        # A read that moves the marker of a direct or group conversation is archived (its
        # receipt): it shares the posts' writer and its bound, as edits do, and the writer
        # checks the socket's credentials in its batch.
        try:
            participation = await committer_get().call(
                services.conversation_mark_read,
                access=self.access_credentials,
                person=self.person,
                conversation_id=conversation_id,
                seq=_int_field(content, "seq"),
            )
        except Overloaded as exc:
            await self._overloaded(ref, exc)
            return
        await self._reply(
            ref,
            {
                "type": "read.ack",
                "conversation": conversation_id,
                "last_read_seq": participation.last_read_seq,
            },
        )

    async def on_ping(self, content: dict, ref) -> None:
        await self._reply(ref, {"type": "pong"})

    # Frames whose handler checks the socket's credentials in its own database work: the
    # committer's batch (message writes) or access_call (sync, read).
    FRAMES_CHECKED_BY_HANDLER = frozenset(
        {"message.send", "message.edit", "message.delete", "sync", "read"}
    )

    HANDLERS = {
        "message.send": on_message_send,
        "message.edit": on_message_edit,
        "message.delete": on_message_delete,
        "sync": on_sync,
        "typing": on_typing,
        "read": on_read,
        "ping": on_ping,
        "presence.set": PresenceConsumerMixin.on_presence_set,
        "presence.subscribe": PresenceConsumerMixin.on_presence_subscribe,
        "presence.unsubscribe": PresenceConsumerMixin.on_presence_unsubscribe,
        "idle": PresenceConsumerMixin.on_idle,
    }
