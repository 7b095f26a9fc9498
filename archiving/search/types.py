"""What every search backend takes and returns, the cursor, and the highlighter.

A SearchRequest carries the parsed query tree and the scope. The scope (participants,
senders, conversations, kinds, events, date range) is applied by every backend as a filter
beside the text condition, never inside it, so no query text can widen it.

Ordering is newest first: (occurred_at desc, record id desc). The cursor is the keyset of the
last hit of a page, signed with the secret key and bound to the request it came from, so a
cursor that was altered or belongs to another search is refused (400) instead of silently
paging something else.
"""

import hashlib
import html
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core import signing

from archiving.search.query import _WORD as WORD_PATTERN  # one definition of a word
from archiving.search.query import Node, query_terms
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _

CURSOR_SALT = "parley.archive.search.cursor"

# Event filter names: short names for what an officer thinks in, or full event kinds
# ("message.posted"). A short name may stand for every event of a family ("file" is
# file.uploaded, file.downloaded, ...), so families are prefixes.
EVENT_ALIASES: dict[str, tuple[list[str], list[str]]] = {
    "message": (["message.posted"], []),
    "edit": (["message.edited"], []),
    "delete": (["message.deleted"], []),
    "join": (["participant.joined"], []),
    "leave": (["participant.left"], []),
    "create": (["conversation.created"], []),
    "close": (["conversation.closed", "conversation.reopened"], []),
    "file": ([], ["file."]),
    "history": ([], ["history."]),
    "invite": ([], ["invitation."]),
    "reply": (["message.replied"], []),
    "mention": (["message.mentioned"], []),
    "reaction": ([], ["reaction."]),
    "read": (["conversation.read"], []),
}
KINDS = ("direct", "group", "room", "external")


@dataclass(frozen=True)
class Scope:
    """The filters outside the query text. Empty lists mean "no restriction"."""

    participant_ids: tuple[int, ...] = ()
    sender_ids: tuple[int, ...] = ()
    conversation_ids: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()
    events: tuple[str, ...] = ()  # exact event kinds
    event_prefixes: tuple[str, ...] = ()  # event families ("file.")
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


@dataclass(frozen=True)
class SearchRequest:
    node: Node | None
    scope: Scope = field(default_factory=Scope)
    page_size: int = 50
    after: tuple[datetime, int] | None = None  # keyset of the previous page's last hit
    with_facets: bool = True
    # Totals are exact up to the threshold, then "at least threshold" (Elasticsearch's
    # track_total_hits): counting every match of a common word is what a page costs most.
    exact_total: bool = False
    total_threshold: int = 10_000


@dataclass(frozen=True)
class MessageItem:
    """A conversation message as history search indexes it: its current text, where it is."""

    message_id: int
    conversation_id: int
    seq: int
    created_at: datetime
    body: str
    version: int = 0  # the outbox row that asked for it (Elasticsearch's external version)


@dataclass(frozen=True)
class Readable:
    """One conversation a person may read: messages after `after_seq` (what was said before a
    newcomer joined stays hidden), sent at or before `until` (when they left), if set."""

    conversation_id: int
    after_seq: int = 0
    until: datetime | None = None


@dataclass(frozen=True)
class HistoryRequest:
    """A person's search of their own conversations: the employee's scope, outside the text."""

    node: Node
    readable: tuple[Readable, ...]
    limit: int = 20
    before_id: int | None = None  # messages older than this one (the previous page's last)


@dataclass(frozen=True)
class SearchHit:
    record_id: int
    conversation_id: int
    conversation_kind: str
    event: str
    sender: str
    body: str
    occurred_at: datetime
    chain_index: int
    highlight: str


@dataclass(frozen=True)
class FacetCount:
    value: str | int
    count: int


@dataclass(frozen=True)
class SearchResult:
    total: int
    hits: list[SearchHit]
    next_after: tuple[datetime, int] | None
    facets: dict[str, list[FacetCount]] = field(default_factory=dict)
    total_is_exact: bool = True  # False: there are at least `total` matches


def scope_event_resolve(names: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (exact events, event prefixes) for filter names, or raise InvalidInput."""
    exact: list[str] = []
    prefixes: list[str] = []
    for name in names:
        if name in EVENT_ALIASES:
            exact.extend(EVENT_ALIASES[name][0])
            prefixes.extend(EVENT_ALIASES[name][1])
        elif re.fullmatch(r"[a-z_]+\.[a-z_]+", name):
            exact.append(name)
        else:
            raise InvalidInput(
                _(
                    'Unknown event "%(name)s": use one of %(EVENT_ALIASES)s or a full '
                    'event kind such as "message.posted".'
                )
                % {"name": name, "EVENT_ALIASES": ", ".join(EVENT_ALIASES)}
            )
    return tuple(dict.fromkeys(exact)), tuple(dict.fromkeys(prefixes))


def request_fingerprint(*, query_text: str, scope: Scope) -> str:
    """Return a digest of what a search asks, binding its cursors to it."""
    document = json.dumps([query_text, repr(scope)], sort_keys=True)
    return hashlib.sha256(document.encode()).hexdigest()[:32]


def cursor_encode(*, after: tuple[datetime, int], fingerprint: str) -> str:
    """Return the opaque, signed cursor for the page after `after`."""
    occurred_at, record_id = after
    payload = {"t": occurred_at.astimezone(UTC).isoformat(), "i": record_id, "f": fingerprint}
    return signing.dumps(payload, salt=CURSOR_SALT, compress=True)


def cursor_decode(*, cursor: str, fingerprint: str) -> tuple[datetime, int]:
    """Return the keyset of a cursor, or raise InvalidInput if it is altered or foreign."""
    try:
        payload = signing.loads(cursor, salt=CURSOR_SALT)
        occurred_at = datetime.fromisoformat(payload["t"])
        record_id = int(payload["i"])
        cursor_fingerprint = payload["f"]
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            _("The cursor is not valid: pass the next_cursor of the previous page unchanged."),
            code="invalid_cursor",
        ) from exc
    if cursor_fingerprint != fingerprint:
        raise InvalidInput(
            _(
                "The cursor belongs to a different search: page with the same "
                "query and filters it came from."
            ),
            code="invalid_cursor",
        )
    return occurred_at, record_id


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def microseconds(moment: datetime) -> int:
    """Return a moment as whole microseconds since the epoch (how indexes store time)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _normalised(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


def highlight(*, body: str, node: Node | None) -> str:
    """Return the body as escaped HTML with every word of the query's positive terms in <mark>.

    Words are marked wherever they occur (a phrase's words too); the hit list, not the marks,
    is what the query semantics decide.
    """
    terms = query_terms(node)
    if not terms:
        return html.escape(body)
    exact = {word for term in terms if not term.is_prefix for word in term.words}
    prefixes = tuple(term.words[0] for term in terms if term.is_prefix)
    out: list[str] = []
    position = 0
    for match in _split_words(body):
        start, end, word = match
        if word in exact or (prefixes and word.startswith(prefixes)):
            out.append(html.escape(body[position:start]))
            out.append("<mark>" + html.escape(body[start:end]) + "</mark>")
            position = end
    out.append(html.escape(body[position:]))
    return "".join(out)


def _split_words(body: str):
    """Yield (start, end, normalised word) the way words_of splits text, with offsets."""
    for match in WORD_PATTERN.finditer(body):
        yield match.start(), match.end(), _normalised(match.group(0))


def hit_from_record(record, *, node: Node | None) -> SearchHit:
    """Return an archive record as a hit, marked by Parley's highlighter (every backend that
    reads its page's rows from the archive builds its hits here)."""
    return SearchHit(
        record_id=record.pk,
        conversation_id=record.conversation_id,
        conversation_kind=record.conversation_kind,
        event=record.event,
        sender=record.actor_username,
        body=record.body,
        occurred_at=record.occurred_at,
        chain_index=record.chain_index,
        highlight=highlight(body=record.body, node=node),
    )
