"""People's search of their own conversation history, on the one search core.

The text side is the archive search's: the same query language (archiving.search.query), the
same normalisation (NFKC, case folding, Chinese and Japanese characters as words of their own)
and the same highlighter (archiving.search.types.highlight), so "CAFÉ" or 会议纪要 give an
employee the same words as a compliance officer. The index stores the normalised words, as the
archive's database backend does (archiving.search.database): an FTS5 table with the `ascii`
tokenizer on SQLite, a tsvector literal on PostgreSQL, queried with an expression built from
the parsed tree, never from the user's text.

What differs is the scope, outside the text: "my conversations" = the messages of
conversations the person is in, from the point they may see (a newcomer to a group does not
see what was said before), until they left, outside the categories that wall them out, and
never deleted messages. Entries are written by the indexing task from the SearchOutbox (the
message's current text: an edit replaces it, a deletion removes it), never on the send path.
"""

from django.db import connection

from archiving.search.backend import index_text
from archiving.search.database import fts5_expression, tsquery_expression, tsvector_literal
from archiving.search.query import Node
from archiving.search.query import query_parse as archive_query_parse
from archiving.search.types import highlight as text_highlight
from chat.selectors.walls import category_walled_sql
from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _


def query_parse(text: str) -> Node:
    """Parse a history search in the archive query language, or raise InvalidInput."""
    node = archive_query_parse(text)
    if node is None:  # the archive searches by filters alone; history needs words
        raise InvalidInput(
            _("The search query needs at least one word to look for."), code="invalid_query"
        )
    return node


def highlight(*, body: str, query: Node) -> str:
    """Return the body as escaped HTML with the query's words in <mark> (the core's marks)."""
    return text_highlight(body=body, node=query)


_VISIBLE = """
    AND m.deleted_at IS NULL
    AND EXISTS (
        SELECT 1 FROM chat_participant p
        WHERE p.conversation_id = m.conversation_id AND p.person_id = %s
          AND m.seq > p.visible_after_seq
          AND (p.left_at IS NULL OR m.created_at <= p.left_at)
    )
    AND NOT EXISTS (
        SELECT 1 FROM chat_conversation c
        WHERE c.id = m.conversation_id AND c.category_id IN ({walled})
    )
"""


def message_ids_search(
    *, person_id: int, query: Node, limit: int, before_id: int | None
) -> list[int]:
    """Return ids of messages the person may read that match, newest first."""
    before = "AND m.id < %s" if before_id else ""
    # Ethical walls: the categories walling the person out, as a subquery of the same SQL.
    walled_sql, walled_params = category_walled_sql(person_id=person_id)
    visible = _VISIBLE.format(walled=walled_sql)
    if connection.vendor == "postgresql":
        sql = f"""
            SELECT m.id FROM chat_message_search s JOIN chat_message m ON m.id = s.message_id
            WHERE s.vector @@ %s::tsquery {visible} {before}
            ORDER BY m.id DESC LIMIT %s
        """  # noqa: S608 - only fixed fragments are formatted in; user text is a parameter
        params = [tsquery_expression(query), person_id, *walled_params]
    else:
        sql = f"""
            SELECT m.id FROM chat_message_fts f JOIN chat_message m ON m.id = f.rowid
            WHERE chat_message_fts MATCH %s {visible} {before}
            ORDER BY m.id DESC LIMIT %s
        """  # noqa: S608 - only fixed fragments are formatted in; user text is a parameter
        params = [fts5_expression(query), person_id, *walled_params]
    if before_id:
        params.append(before_id)
    params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def index_write(*, entries: list[tuple[int, str | None]]) -> None:
    """Write (message id, body) entries to the index; a None body removes the entry."""
    with connection.cursor() as cursor:
        for message_id, body in entries:
            if connection.vendor == "postgresql":
                if body is None:
                    cursor.execute(
                        "DELETE FROM chat_message_search WHERE message_id = %s", [message_id]
                    )
                else:
                    # A literal of the normalised words: PostgreSQL's parser never runs.
                    cursor.execute(
                        "INSERT INTO chat_message_search (message_id, vector) "
                        "VALUES (%s, %s::tsvector) ON CONFLICT (message_id) "
                        "DO UPDATE SET vector = EXCLUDED.vector",
                        [message_id, tsvector_literal(index_text(body))],
                    )
            else:
                cursor.execute("DELETE FROM chat_message_fts WHERE rowid = %s", [message_id])
                if body is not None:
                    cursor.execute(
                        "INSERT INTO chat_message_fts (rowid, body) VALUES (%s, %s)",
                        [message_id, index_text(body)],
                    )


# The index tables. SQLite's stores the normalised words under the `ascii` tokenizer (it
# splits on spaces and keeps every non-ASCII character), like the archive's FTS5 table.
CREATE_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS chat_message_fts USING fts5("
    "body, tokenize=\"ascii tokenchars '_'\")"
)
CREATE_POSTGRESQL = [
    # No foreign key to chat_message: Django's flush truncates chat_message without CASCADE,
    # and the indexing task already removes entries of deleted messages.
    "CREATE TABLE IF NOT EXISTS chat_message_search ("
    " message_id bigint PRIMARY KEY, vector tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS chat_message_search_vector"
    " ON chat_message_search USING GIN (vector)",
]
