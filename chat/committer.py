"""The per-process group committer of WebSocket posts.

Design. Every `message.send` of a process is queued here instead of running on the one
thread that `database_sync_to_async` shares with every other database call. A writer takes
every post that arrived while the previous batch was committing (up to
PARLEY_POST_BATCH_MAX) and stores them with chat.services.message_post_batch: one transaction,
one COMMIT (one fsync), a fixed handful of statements for the whole batch. Each post's future
is resolved only after that commit, so its ack still means "stored and archived"; if the
commit fails, every post of the batch gets the error and none is acked.

Edits and deletes (`call`) join the same queue and writer, each in its own transaction in
arrival order between the batches, so they share the bound and leave the shared thread too.

A socket's writes carry its credentials (`access`: person id, token id). Right before a batch
is written, one query checks the credentials of every socket in it
(directory.selectors.sockets_access_ended); a write whose person was deactivated or whose
token ended is not written and gets AccessEnded, so the socket closes instead of an ack. This
replaces a check of its own per frame (a hop to the shared database thread and a query, which
cost more than the post's share of the batch) and keeps its promise: it runs later than that
check did, just before the write.

PARLEY_POST_WRITERS writer threads (default 1: SQLite has one writer anyway, and on PostgreSQL
a second writer split the batches and cost more CPU per post than it overlapped) take batches
in turn, each with its own database connection. Conversations are locked in id order inside a
batch, so concurrent batches (threads or processes) never deadlock.

Overload degrades instead of collapsing: the queue holds at most PARLEY_POST_QUEUE_MAX posts;
beyond that a post is refused at once with Overloaded (an `error` frame `overloaded` with
`retry_after_ms`, the time the queue ahead should take at the recent commit rate), never
silently dropped, and nothing already queued is lost.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections

from chat import services
from directory import selectors as directory
from directory.exceptions import ServiceError
from directory.exceptions import sentence_gettext as _
from directory.socket_access import AccessEnded

logger = logging.getLogger(__name__)

_POST, _CALL = "post", "call"
Access = tuple[int, int | None]  # a socket's (person id, token id)


class Overloaded(ServiceError):
    """More posts are waiting than the process will queue; retry after retry_after_ms."""

    status = 503
    code = "overloaded"

    def __init__(self, detail: str, *, retry_after_ms: int) -> None:
        super().__init__(detail)
        self.retry_after_ms = retry_after_ms


class PostCommitter:
    """Queue posts and commit them in batches on dedicated writer threads."""

    def __init__(self, *, writers: int, batch_max: int, queue_max: int) -> None:
        self.writers = writers
        self.batch_max = batch_max
        self.queue_max = queue_max
        self.executor = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="parley-post")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.rate = 200.0  # posts/s, a moving average of what batches achieved

    def _bind(self) -> None:
        # One queue per event loop (a server has one; tests start a loop per test).
        loop = asyncio.get_running_loop()
        if self.loop is loop:
            return
        self.loop = loop
        self.queue: list[tuple[str, Any, Access | None, asyncio.Future]] = []
        self.wake = asyncio.Event()
        self.tasks = [loop.create_task(self._writer()) for _ in range(self.writers)]

    @property
    def pending(self) -> int:
        return len(self.queue) if self.loop is not None else 0

    async def post(self, *, access: Access | None = None, **request: Any) -> tuple[Any, bool]:
        """Queue one post (message_post's arguments); return (message, created) once the
        batch holding it has committed. With `access` (a socket's person and token ids), the
        post is written only if those credentials still hold; AccessEnded otherwise."""
        return await self._enqueue(_POST, request, access)

    async def call(
        self, service: Callable[..., Any], /, *, access: Access | None = None, **kwargs: Any
    ) -> Any:
        """Queue another write of the message path (an edit, a delete) behind the posts
        queued before it; it runs in its own transaction on a writer thread. `access` as
        for post."""
        return await self._enqueue(_CALL, (service, kwargs), access)

    async def _enqueue(self, kind: str, payload: Any, access: Access | None) -> Any:
        self._bind()
        if len(self.queue) >= self.queue_max:
            retry_after_ms = max(50, min(10_000, int(1000 * len(self.queue) / self.rate)))
            raise Overloaded(
                _(
                    "The server has %(len)s messages waiting to be stored; send this "
                    "one again in %(retry_after_ms)s ms."
                )
                % {"len": len(self.queue), "retry_after_ms": retry_after_ms},
                retry_after_ms=retry_after_ms,
            )
        future = self.loop.create_future()
        self.queue.append((kind, payload, access, future))
        self.wake.set()
        return await future

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.queue:
                self.wake.clear()
                await self.wake.wait()
                continue
            batch = self.queue[: self.batch_max]
            del self.queue[: self.batch_max]
            started = time.monotonic()
            try:
                results = await loop.run_in_executor(
                    self.executor,
                    _commit,
                    [(kind, payload, access) for kind, payload, access, _ in batch],
                )
            except Exception as exc:  # the commit failed: no post of the batch is stored
                logger.exception("post batch of %d failed", len(batch))
                results = [exc] * len(batch)
            elapsed = max(time.monotonic() - started, 1e-4)
            self.rate = 0.8 * self.rate + 0.2 * max(len(batch) / elapsed, 1.0)
            for (*_fields, future), result in zip(batch, results, strict=True):
                if future.done():  # the sender's socket went away meanwhile
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)


def _commit(queued: list[tuple[str, Any, Access | None]]) -> list[Any]:
    """Run queued writes on a writer thread, with that thread's own database connection:
    each run of consecutive posts as one batch, each other call in its own transaction;
    writes of sockets whose credentials ended get AccessEnded and are not run."""
    close_old_connections()
    try:
        ended = directory.sockets_access_ended(
            credentials={access for _, _, access in queued if access is not None}
        )
        refused = {
            i: AccessEnded(ended[access])
            for i, (_, _, access) in enumerate(queued)
            if access is not None and access in ended
        }
        items = [(kind, payload) for i, (kind, payload, _) in enumerate(queued) if i not in refused]
        results = _run(items)
        for i in sorted(refused):
            results.insert(i, refused[i])
        return results
    finally:
        close_old_connections()


def _run(items: list[tuple[str, Any]]) -> list[Any]:
    results: list[Any] = []
    start = 0
    while start < len(items):
        kind, payload = items[start]
        if kind == _CALL:
            service, kwargs = payload
            try:
                results.append(service(**kwargs))
            except Exception as exc:  # the edge maps it, as if called directly
                results.append(exc)
            start += 1
            continue
        end = start
        while end < len(items) and items[end][0] == _POST:
            end += 1
        requests = [payload for _, payload in items[start:end]]
        try:
            results.extend(services.message_post_batch(requests=requests))
        except Exception as exc:  # the commit failed: no post of the batch is stored
            logger.exception("post batch of %d failed", len(requests))
            results.extend([exc] * len(requests))
        start = end
    return results


_committer: PostCommitter | None = None


def committer_get() -> PostCommitter:
    """Return the process's committer, made on first use from the settings."""
    global _committer
    if _committer is None:
        _committer = PostCommitter(
            writers=max(1, settings.PARLEY_POST_WRITERS),
            batch_max=settings.PARLEY_POST_BATCH_MAX,
            queue_max=settings.PARLEY_POST_QUEUE_MAX,
        )
    return _committer


def committer_reset() -> None:
    """Forget the committer (tests that change its settings)."""
    global _committer
    if _committer is not None:
        with contextlib.suppress(Exception):
            _committer.executor.shutdown(wait=False)
    _committer = None
