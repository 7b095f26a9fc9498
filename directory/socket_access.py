"""Sockets whose credentials end are closed, however they ended.

Design. A socket is authenticated once, at its handshake; afterwards its person may be
deactivated and its token revoked or expired in many ways: a service, the admin form or bulk
action, a plain `save()`, a queryset `.update()`, a directory sync. Hooks on those writes would
miss some of them (and signals are not used for domain logic), so the socket side checks:

- every frame that reads or writes data is checked against the socket's person and token
  before it touches data, so no such frame of a deactivated person, or on an ended token, is
  handled however recent the change. The check costs no hop of its own: the message writes
  (posts, edits, deletes) are checked by the group committer right before it writes their
  batch, one query for all the batch's sockets (chat/committer.py), and the other data
  frames in the same thread hop as their handler (access_call); frames whose handler does
  neither are checked before the handler (access_allows, one hop and one query);
- each server process sweeps its sockets every PARLEY_WS_ACCESS_SWEEP_SECONDS (three queries
  for all of them, whatever their number) and closes those whose person is deactivated (4403),
  whose token was revoked, expired or idle too long, or whose browser session ended without a
  sign-out here (expired, flushed; 4401), so that a socket which only listens stops receiving
  within seconds; the sweep also marks the tokens of open sockets as
  in use, so a connected program's token does not end as idle;
- services that know they end access (person_deactivate, token_revoke, sign-out) still push
  the close at once through the fan-out hub.

Frames that touch no data (ping, typing) are let through on the last check, which the sweep
keeps at most one interval old.

Roles: no socket relies on a role today. The WebSocket carries an employee's own
conversations and presence, which need no role; the Compliance console reads the archive
through REST, which checks the Compliance group on every call. A frame or a feed that needs a
role must add that role to socket_access_ended, and the sweep then covers its loss too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from directory import realtime, selectors, services

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# Frames answered without reading or writing data: the sweep's last check is enough for them.
FRAMES_WITHOUT_DATA = frozenset({"ping", "typing"})


class AccessEnded(Exception):
    """The socket's person or token no longer holds; nothing of the frame was done."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _checked_call(
    person_id: int, token_id: int | None, function: Callable[..., Any], kwargs: dict
) -> Any:
    reason = selectors.socket_access_ended(person_id=person_id, token_id=token_id)
    if reason is not None:
        raise AccessEnded(reason)
    return function(**kwargs)


def close_code_for(reason: str) -> int:
    """Return the close code for why a socket's credentials ended."""
    return CLOSE_FORBIDDEN if reason == selectors.PERSON_DEACTIVATED else CLOSE_UNAUTHENTICATED


class SocketAccessMixin:
    """For the /ws/ consumer: call access_start() once authenticated; then either handle a
    frame only when `await self.access_allows(frame_type)` says so (it has closed the socket
    otherwise), or do its database work through access_call (or the committer, with
    access_credentials) and close the socket with access_end(exc.reason) on AccessEnded."""

    person_id: int
    token_id: int | None
    session_key: str | None = None
    access_checked_at: float = 0.0
    is_access_ended: bool = False

    def access_start(self) -> None:
        """Note that the handshake just checked the credentials; start this loop's sweep."""
        self.access_checked_at = time.monotonic()
        sweeper_ensure()

    async def access_allows(self, frame_type: str) -> bool:
        """Return whether the socket's person and token still hold; close the socket if not."""
        if self.is_access_ended:
            return False
        age = time.monotonic() - self.access_checked_at
        if frame_type in FRAMES_WITHOUT_DATA and age < settings.PARLEY_WS_ACCESS_SWEEP_SECONDS:
            return True
        reason = await database_sync_to_async(selectors.socket_access_ended)(
            person_id=self.person_id, token_id=self.token_id
        )
        if reason is None:
            self.access_checked_at = time.monotonic()
            return True
        await self.access_end(reason)
        return False

    @property
    def access_credentials(self) -> tuple[int, int | None]:
        """What the committer checks for this socket's writes: (person_id, token_id)."""
        return (self.person_id, self.token_id)

    async def access_call(self, function: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Run function(**kwargs) on the database thread, after checking the socket's
        credentials in the same hop; raise AccessEnded (nothing done) if they ended."""
        if self.is_access_ended:
            raise AccessEnded(selectors.TOKEN_ENDED)
        result = await database_sync_to_async(_checked_call)(
            self.person_id, self.token_id, function, kwargs
        )
        self.access_checked_at = time.monotonic()
        return result

    async def access_end(self, reason: str) -> None:
        """Close the socket because its credentials ended (once)."""
        if self.is_access_ended:
            return
        self.is_access_ended = True
        await self.close_for(close_code_for(reason), reason)


# -- the per-process sweep ---------------------------------------------------------------------

_sweepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task] = (
    weakref.WeakKeyDictionary()
)


def sweeper_ensure() -> None:
    """Start this event loop's access sweep once."""
    loop = asyncio.get_running_loop()
    task = _sweepers.get(loop)
    if task is None or task.done():
        _sweepers[loop] = loop.create_task(_sweep_forever())


def _credentials_check(
    person_ids: set[int], token_ids: set[int], session_keys: set[str]
) -> tuple[set[int], set[int], set[str]]:
    people, tokens = selectors.socket_credentials_ended(person_ids=person_ids, token_ids=token_ids)
    if token_ids - tokens:
        services.tokens_in_use_touch(token_ids=token_ids - tokens)
    return people, tokens, selectors.sessions_ended(session_keys=session_keys)


async def sockets_sweep(hub: realtime.Hub) -> int:
    """Close this process's sockets whose person or token no longer holds; return how many."""
    # Only client sockets: the hub also holds stand-ins such as the XMPP gateway's watchers.
    sockets = [
        socket
        for group in list(hub.by_person.values())
        for socket in group
        if isinstance(socket, SocketAccessMixin) and not socket.is_access_ended
    ]
    if not sockets:
        return 0
    checked_at = time.monotonic()
    person_ids = {socket.person_id for socket in sockets}
    token_ids = {socket.token_id for socket in sockets if socket.token_id is not None}
    session_keys = {socket.session_key for socket in sockets if socket.session_key is not None}
    people, tokens, sessions = await database_sync_to_async(_credentials_check)(
        person_ids, token_ids, session_keys
    )
    closed = 0
    for socket in sockets:
        if socket.person_id in people:
            reason = selectors.PERSON_DEACTIVATED
        elif socket.token_id in tokens:
            reason = selectors.TOKEN_ENDED
        elif socket.session_key in sessions:
            reason = selectors.SESSION_ENDED
        else:
            socket.access_checked_at = max(socket.access_checked_at, checked_at)
            continue
        closed += 1
        try:
            await socket.access_end(reason)
        except Exception:  # a socket that is already gone must not keep the others open
            logger.debug("access sweep: close failed", exc_info=True)
    return closed


async def _sweep_forever() -> None:
    hub = await realtime.hub_get()
    while True:
        await asyncio.sleep(settings.PARLEY_WS_ACCESS_SWEEP_SECONDS)
        try:
            await sockets_sweep(hub)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. the database restarting: the next sweep tries again
            logger.warning("access sweep failed, retrying in the next one: %r", exc)
