"""The archive query language: parse a compliance officer's query text into a tree.

Grammar (operators are upper case; anything else is a search term):

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= unary (["AND"] unary)*          adjacent terms are ANDed
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or_expr ")" | '"' phrase '"' | word | word"*"

Words are matched case-insensitively on word boundaries (`\\w+` runs of the text); a bare
token with inner punctuation ("e-mail", "U.S.") is a phrase of its pieces. Chinese and Japanese
are written without spaces, so each ideograph, hiragana or katakana character is a word of its
own (as Lucene's standard tokenizer does): "会议纪要" is the phrase 会 议 纪 要 and is found inside
"明天的会议纪要". Korean is treated the same way, one Hangul syllable per word: Korean attaches
particles and endings to a word ("회의록을", "회의록은") and spaces compound words freely
("회의록" / "회의 록"), so "회의록" must be found in all of them, which whole-word matching on
spaces would not do. A prefix of such characters ("회의*") is the phrase of its characters,
since every longer word containing them already matches. The scope
(participants, conversations, dates, kinds) is never part of this text: backends apply it as
a filter outside the parsed tree, so no query can widen what an officer may see.

Every NOT must sit in an AND next to something positive ("merger -draft"), because "everything
except X" cannot be answered by an index; such a query is refused with a message saying so.
"""

import re
import unicodedata
from dataclasses import dataclass

from django.utils.translation import pgettext

from directory.exceptions import InvalidInput
from directory.exceptions import sentence_gettext as _

MAX_QUERY_LENGTH = 1000
MAX_TERMS = 64
MAX_DEPTH = 16
MIN_PREFIX_LENGTH = 2

# Han ideographs (with extensions and compatibility forms), hiragana and katakana; Hangul
# syllables and jamo (conjoining, compatibility, extended A and B).
_CJK = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
    "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"
)
_ONE_CHARACTER_WORD = re.compile(rf"[{_CJK}]")
_WORD = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")
_TOKEN = re.compile(r'\s*(?:(?P<lparen>\()|(?P<rparen>\))|(?P<quote>")|(?P<bare>[^\s()"]+))')


class InvalidQuery(InvalidInput):
    code = "invalid_query"


@dataclass(frozen=True)
class Term:
    """A word, a word prefix ("merg*") or a phrase of several words in a row."""

    words: tuple[str, ...]
    is_prefix: bool = False

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    child: "Node"


Node = Term | And | Or | Not


def words_of(text: str) -> list[str]:
    """Return the normalised words of a text, as every backend and matcher sees them."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


@dataclass
class _Token:
    kind: str  # word, phrase, lparen, rparen, and, or, not
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _TOKEN.match(text, position)
        if match is None:  # pragma: no cover - the pattern accepts any non-space character
            raise InvalidQuery(
                _("Unexpected character at position %(value)s.") % {"value": position + 1}
            )
        start = match.start(match.lastgroup)
        if match.lastgroup == "lparen":
            tokens.append(_Token("lparen", "(", start))
        elif match.lastgroup == "rparen":
            tokens.append(_Token("rparen", ")", start))
        elif match.lastgroup == "quote":
            end = text.find('"', start + 1)
            if end == -1:
                raise InvalidQuery(
                    _(
                        "The quotation mark at position %(value)s is never closed; close "
                        'the phrase with another ".'
                    )
                    % {"value": start + 1}
                )
            tokens.append(_Token("phrase", text[start + 1 : end], start))
            position = end + 1
            continue
        else:
            bare = match.group("bare")
            if bare in ("AND", "OR", "NOT"):
                tokens.append(_Token(bare.lower(), bare, start))
            elif bare.startswith("-") and len(bare) > 1:
                tokens.append(_Token("not", "-", start))
                tokens.append(_Token("word", bare[1:], start + 1))
            else:
                tokens.append(_Token("word", bare, start))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.index = 0
        self.terms = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.or_expr(0)
        token = self.peek()
        if token is not None:
            raise InvalidQuery(
                f'Unexpected "{token.text}" at position {token.position + 1}'
                + (
                    "; it closes a parenthesis that was never opened."
                    if token.kind == "rparen"
                    else "."
                )
            )
        return node

    def or_expr(self, depth: int) -> Node:
        children = [self.and_expr(depth)]
        while (token := self.peek()) is not None and token.kind == "or":
            self.take()
            children.append(self.and_expr(depth))
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self, depth: int) -> Node:
        children = [self.unary(depth)]
        while (token := self.peek()) is not None and token.kind not in ("or", "rparen"):
            if token.kind == "and":
                self.take()
            children.append(self.unary(depth))
        return children[0] if len(children) == 1 else And(tuple(children))

    def unary(self, depth: int) -> Node:
        token = self.peek()
        if token is None:
            raise InvalidQuery(self._missing(_("the query ends where a search term is expected")))
        if token.kind == "not":
            self.take()
            return Not(self.unary(depth))
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        token = self.take()
        if token.kind == "lparen":
            if depth + 1 > MAX_DEPTH:
                raise InvalidQuery(
                    _("Parentheses nest deeper than %(MAX_DEPTH)s levels.")
                    % {"MAX_DEPTH": MAX_DEPTH}
                )
            if (following := self.peek()) is not None and following.kind == "rparen":
                raise InvalidQuery(
                    _("The parentheses at position %(value)s are empty.")
                    % {"value": token.position + 1}
                )
            node = self.or_expr(depth + 1)
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise InvalidQuery(
                    _("The parenthesis opened at position %(value)s is never closed.")
                    % {"value": token.position + 1}
                )
            self.take()
            return node
        if token.kind in ("and", "or"):
            raise InvalidQuery(
                _(
                    '"%(text)s" at position %(value)s needs a search term on both '
                    'sides (to search for the word itself, put it in quotes: "and").'
                )
                % {"text": token.text, "value": token.position + 1}
            )
        if token.kind == "rparen":
            raise InvalidQuery(
                _(
                    "Unexpected ) at position %(value)s: nothing to close, or an "
                    "operator is missing its term."
                )
                % {"value": token.position + 1}
            )
        return self.term(token)

    def term(self, token: _Token) -> Term:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise InvalidQuery(
                _("A query may hold at most %(MAX_TERMS)s search terms.") % {"MAX_TERMS": MAX_TERMS}
            )
        raw = token.text
        is_prefix = token.kind == "word" and raw.endswith("*")
        if is_prefix:
            raw = raw.rstrip("*")
        if "*" in raw:
            raise InvalidQuery(
                _(
                    '"%(text)s" at position %(value)s: * is allowed only at the end '
                    "of a word (merg*)."
                )
                % {"text": token.text, "value": token.position + 1}
            )
        words = tuple(words_of(raw))
        if not words:
            what = (
                pgettext("query", "phrase") if token.kind == "phrase" else pgettext("query", "term")
            )
            raise InvalidQuery(
                _(
                    'The %(what)s "%(text)s" at position %(value)s has no letters or '
                    "digits to search for."
                )
                % {"what": what, "text": token.text, "value": token.position + 1}
            )
        if is_prefix and all(_ONE_CHARACTER_WORD.fullmatch(word) for word in words):
            # 회의* / 会议*: the characters in a row, wherever they stand in a longer word.
            return Term(words=words, is_prefix=False)
        if is_prefix:
            if len(words) > 1:
                raise InvalidQuery(
                    _('"%(text)s": a prefix search takes one word (merg*), not several.')
                    % {"text": token.text}
                )
            if len(words[0]) < MIN_PREFIX_LENGTH:
                raise InvalidQuery(
                    _('"%(text)s": a prefix needs at least %(MIN_PREFIX_LENGTH)s letters.')
                    % {"text": token.text, "MIN_PREFIX_LENGTH": MIN_PREFIX_LENGTH}
                )
        return Term(words=words, is_prefix=is_prefix)

    def _missing(self, what: str) -> str:
        return _("Incomplete query: %(what)s (after %(after)r).") % {
            "what": what,
            "after": self.text.strip()[-20:],
        }


def _check_negations(node: Node) -> None:
    """Refuse a NOT that is not ANDed with something positive."""
    if isinstance(node, Term):
        return
    if isinstance(node, Not):
        raise InvalidQuery(
            _(
                "A NOT (or -word) must be combined with a word to search for, "
                'e.g. "merger NOT draft"; a query cannot ask for everything '
                "except something."
            )
        )
    if isinstance(node, Or):
        for child in node.children:
            _check_negations(child)
        return
    positives = [child for child in node.children if not isinstance(child, Not)]
    if not positives:
        _check_negations(node.children[0])
    for child in node.children:
        _check_negations(child.child if isinstance(child, Not) else child)


def query_parse(text: str) -> Node | None:
    """Return the tree of a query text, None for an empty query (filters only)."""
    if not isinstance(text, str):
        raise InvalidQuery(_("The query must be text."))
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidQuery(
            _("The query is longer than %(MAX_QUERY_LENGTH)s characters.")
            % {"MAX_QUERY_LENGTH": MAX_QUERY_LENGTH}
        )
    tokens = _tokenize(text)
    if not tokens:
        return None
    node = _Parser(tokens, text).parse()
    _check_negations(node)
    return node


def _phrase_in(words: tuple[str, ...], text_words: list[str]) -> bool:
    size = len(words)
    return any(tuple(text_words[i : i + size]) == words for i in range(len(text_words) - size + 1))


def query_matches(node: Node | None, text: str) -> bool:
    """Return whether a text matches a query tree: the reference semantics for every backend."""
    if node is None:
        return True
    return _matches(node, words_of(text))


def _matches(node: Node, text_words: list[str]) -> bool:
    if isinstance(node, Term):
        if node.is_prefix:
            return any(word.startswith(node.words[0]) for word in text_words)
        if node.is_phrase:
            return _phrase_in(node.words, text_words)
        return node.words[0] in text_words
    if isinstance(node, Not):
        return not _matches(node.child, text_words)
    if isinstance(node, And):
        return all(_matches(child, text_words) for child in node.children)
    return any(_matches(child, text_words) for child in node.children)


def query_terms(node: Node | None) -> list[Term]:
    """Return the positive terms of a tree (what a highlighter marks)."""
    if node is None or isinstance(node, Not):
        return []
    if isinstance(node, Term):
        return [node]
    return [term for child in node.children for term in query_terms(child)]
