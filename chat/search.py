"""Full-text search of people's own conversation history, in the database.

SQLite uses an FTS5 table (rowid = message id); PostgreSQL a tsvector table with a GIN index
(the 'simple' configuration, so no language's stemming surprises anyone). Both are written by
the indexing task from the SearchOutbox, never on the send path, and both read the same small
query language, parsed here and translated per backend, so user text never reaches the
database's own query syntax:

    words (all must match)   "a phrase"   prefix*   either OR other   -excluded
"""

import html
import re
from dataclasses import dataclass

from django.db import connection

from chat.selectors.walls import category_walled_sql
from directory.exceptions import InvalidInput

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_LENGTH = 500
_NOT_TAGS = str.maketrans({"<": " ", ">": " "})


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # more than one word: a phrase
    is_prefix: bool = False
    is_negated: bool = False


@dataclass(frozen=True)
class Query:
    """Clauses joined by AND; each clause is terms joined by OR."""

    clauses: tuple[tuple[Term, ...], ...]

    def positive_words(self) -> list[tuple[str, bool]]:
        return [
            (word, term.is_prefix)
            for clause in self.clauses
            for term in clause
            if not term.is_negated
            for word in term.words
        ]


def query_parse(text: str) -> Query:
    """Parse the user's query, or raise InvalidInput saying what is wrong."""
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"The search query is limited to {MAX_QUERY_LENGTH} characters.")
    if text.count('"') % 2:
        raise InvalidInput('The search query has an unclosed quote (").', code="invalid_query")
    clauses: list[list[Term]] = []
    pending_or = False
    for match in _TOKEN.finditer(text):
        phrase, raw = match.group(1), match.group(2)
        if raw == "OR":
            if not clauses:
                raise InvalidInput("OR needs a word before it.", code="invalid_query")
            pending_or = True
            continue
        negated = False
        prefix = False
        if raw is not None:
            if raw.startswith("-") and len(raw) > 1:
                negated, raw = True, raw[1:]
            if raw.endswith("*"):
                prefix, raw = True, raw.rstrip("*")
            words = tuple(w.lower() for w in _WORD.findall(raw))
        else:
            words = tuple(w.lower() for w in _WORD.findall(phrase))
        if not words:
            continue
        term = Term(words=words, is_prefix=prefix, is_negated=negated)
        if pending_or:
            clauses[-1].append(term)
            pending_or = False
        else:
            clauses.append([term])
    if pending_or:
        raise InvalidInput("OR needs a word after it.", code="invalid_query")
    if not clauses or all(t.is_negated for c in clauses for t in c):
        raise InvalidInput(
            "The search query needs at least one word to look for.", code="invalid_query"
        )
    return Query(clauses=tuple(tuple(c) for c in clauses))


def _fts5_expression(query: Query) -> str:
    def term_text(term: Term) -> str:
        quoted = '"' + " ".join(term.words).replace('"', '""') + '"'
        return quoted + ("*" if term.is_prefix else "")

    positives, negatives = [], []
    for clause in query.clauses:
        if len(clause) == 1 and clause[0].is_negated:
            negatives.append(term_text(clause[0]))
        else:
            positives.append("(" + " OR ".join(term_text(t) for t in clause) + ")")
    expression = " AND ".join(positives)
    for negative in negatives:
        expression = f"({expression}) NOT {negative}"
    return expression


def _tsquery_expression(query: Query) -> str:
    def lexeme(word: str, is_prefix: bool) -> str:
        return (
            "'" + word.replace("'", "''").replace("\\", "\\\\") + "'" + (":*" if is_prefix else "")
        )

    def term_text(term: Term) -> str:
        words = [
            lexeme(w, term.is_prefix and i == len(term.words) - 1) for i, w in enumerate(term.words)
        ]
        text = "(" + " <-> ".join(words) + ")"
        return "!" + text if term.is_negated else text

    return " & ".join(
        "(" + " | ".join(term_text(t) for t in clause) + ")" for clause in query.clauses
    )


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
    *, person_id: int, query: Query, limit: int, before_id: int | None
) -> list[int]:
    """Return ids of messages the person may read that match, newest first."""
    before = "AND m.id < %s" if before_id else ""
    # Ethical walls: the categories walling the person out, as a subquery of the same SQL.
    walled_sql, walled_params = category_walled_sql(person_id=person_id)
    visible = _VISIBLE.format(walled=walled_sql)
    if connection.vendor == "postgresql":
        sql = f"""
            SELECT m.id FROM chat_message_search s JOIN chat_message m ON m.id = s.message_id
            WHERE s.vector @@ to_tsquery('simple', %s) {visible} {before}
            ORDER BY m.id DESC LIMIT %s
        """  # noqa: S608 - only fixed fragments are formatted in; user text is a parameter
        params = [_tsquery_expression(query), person_id, *walled_params]
    else:
        sql = f"""
            SELECT m.id FROM chat_message_fts f JOIN chat_message m ON m.id = f.rowid
            WHERE chat_message_fts MATCH %s {visible} {before}
            ORDER BY m.id DESC LIMIT %s
        """  # noqa: S608 - only fixed fragments are formatted in; user text is a parameter
        params = [_fts5_expression(query), person_id, *walled_params]
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
                    # PostgreSQL's parser drops anything that looks like an XML tag
                    # ("<quarterly>"), so angle brackets become spaces before parsing.
                    cursor.execute(
                        "INSERT INTO chat_message_search (message_id, vector) "
                        "VALUES (%s, to_tsvector('simple', %s)) ON CONFLICT (message_id) "
                        "DO UPDATE SET vector = EXCLUDED.vector",
                        [message_id, body.translate(_NOT_TAGS)],
                    )
            else:
                cursor.execute("DELETE FROM chat_message_fts WHERE rowid = %s", [message_id])
                if body is not None:
                    cursor.execute(
                        "INSERT INTO chat_message_fts (rowid, body) VALUES (%s, %s)",
                        [message_id, body],
                    )


def highlight(*, body: str, query: Query) -> str:
    """Return the body as escaped HTML with the matched words in <mark>."""
    words = query.positive_words()
    if not words:
        return html.escape(body)
    pattern = "|".join(
        re.escape(w) + (r"\w*" if is_prefix else r"(?!\w)") for w, is_prefix in words
    )
    regex = re.compile(rf"(?<!\w)(?:{pattern})", re.IGNORECASE | re.UNICODE)
    out, position = [], 0
    for match in regex.finditer(body):
        out.append(html.escape(body[position : match.start()]))
        out.append("<mark>" + html.escape(match.group(0)) + "</mark>")
        position = match.end()
    out.append(html.escape(body[position:]))
    return "".join(out)


CREATE_SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS chat_message_fts USING fts5("
    "body, tokenize='unicode61 remove_diacritics 2')"
)
CREATE_POSTGRESQL = [
    # No foreign key to chat_message: Django's flush truncates chat_message without CASCADE,
    # and the indexing task already removes entries of deleted messages.
    "CREATE TABLE IF NOT EXISTS chat_message_search ("
    " message_id bigint PRIMARY KEY, vector tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS chat_message_search_vector"
    " ON chat_message_search USING GIN (vector)",
]
