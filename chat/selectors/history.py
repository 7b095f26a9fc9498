"""People's search of their own conversation history, on the one search core.

The text side is the archive search's: the same query language (archiving.search.query), the
same normalisation (NFKC, case folding, Chinese and Japanese characters as words of their own)
and the same highlighter (archiving.search.types.highlight), so "CAFÉ" or 会议纪要 give an
employee the same words as a compliance officer. The index is the search core's too, written
by its one outbox and indexing task: chat queues a message when it is posted, edited or
deleted, and the task indexes the message as it then reads (MessageDocuments below), or
removes it once deleted. Employees search what the conversation shows them now, never the
archive's retained originals.

What differs is the scope, outside the text: "my conversations" = the conversations the
person is in or was in, each from the point they may see (a newcomer to a group does not see
what was said before) until they left, outside the categories that wall them out.
"""

from archiving.search.backend import backend_get
from archiving.search.query import Node, query_parse
from archiving.search.types import HistoryRequest, MessageItem, Readable
from chat.models import Message, Participant
from chat.selectors.conversations import messages_by_ids, unwalled
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _


def history_query_parse(text: str) -> Node:
    """Parse a history search in the archive query language, or raise InvalidInput."""
    node = query_parse(text)
    if node is None:  # the archive searches by filters alone; history needs words
        raise InvalidInput(
            _("The search query needs at least one word to look for."), code="invalid_query"
        )
    return node


def history_readable(*, person_id: int) -> tuple[Readable, ...]:
    """Return the conversations the person may search, each with the part they may read."""
    rows = Participant.objects.filter(unwalled(person_id), person_id=person_id).values_list(
        "conversation_id", "visible_after_seq", "left_at"
    )
    return tuple(
        Readable(conversation_id=conversation_id, after_seq=after_seq, until=left_at)
        for conversation_id, after_seq, left_at in rows
    )


def history_search(
    *, person_id: int, query: Node, limit: int, before_id: int | None
) -> tuple[list[Message], int | None]:
    """Return the person's matching messages, newest first, and the `before` of the next page
    (None: this is the last)."""
    ids = backend_get().messages_search(
        HistoryRequest(
            node=query,
            readable=history_readable(person_id=person_id),
            limit=limit + 1,
            before_id=before_id,
        )
    )
    # The index drops a deleted message at the next indexing run; never show one meanwhile.
    messages = [m for m in messages_by_ids(ids[:limit]) if not m.is_deleted]
    return messages, ids[limit - 1] if len(ids) > limit else None


class MessageDocuments:
    """The search core's source of the messages collection (registered in ChatConfig.ready)."""

    def documents(self, message_ids: list[int]) -> dict[int, MessageItem]:
        rows = Message.objects.filter(pk__in=message_ids, deleted_at__isnull=True).values_list(
            "pk", "conversation_id", "seq", "created_at", "body"
        )
        return {
            pk: MessageItem(
                message_id=pk, conversation_id=conversation_id, seq=seq, created_at=at, body=body
            )
            for pk, conversation_id, seq, at, body in rows
        }

    def ids_after(self, last_id: int, limit: int) -> list[int]:
        return list(
            Message.objects.filter(pk__gt=last_id, deleted_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
