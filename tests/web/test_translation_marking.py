"""Every word a person reads on a page is marked for translation.

Templates: text between tags, and the attributes people read (title, placeholder, alt,
aria-label, the value of a submit button), must come from {% translate %} /
{% blocktranslate %} or a variable. JavaScript: a string literal that reads as words (words
with spaces between them, a capitalised word, or a sentence's punctuation) must be the
argument of gettext(), ngettext() or pgettext(); literals that are code (class names,
selectors, event and key names, URLs, API values) are told apart by where they stand.

The files checked are listed below by glob, so a page or script added later is checked too;
a failure names the file, the line and the string. The few strings that are deliberately not
translated (product names, examples of the query language the API reads) are listed in
ALLOWED with the reason.
"""

import re
from pathlib import Path

import pytest
from django.template.base import Lexer, TokenType

ROOT = Path(__file__).resolve().parents[2]

TEMPLATE_GLOBS = ["web/templates/**/*.html", "*/templates/admin/**/*.html"]
SCRIPT_GLOBS = ["web/static/js/**/*.js"]

# file (relative to the checkout) -> strings that stay as they are, and why.
ALLOWED: dict[str, set[str]] = {
    # The query language's operators and an example the search API parses: not words.
    "web/templates/web/console/search.html": {
        'merger -draft, "project blue", merg*',
        "message, edit, delete, file",
        "EML",
        "RSMF",
        "Exchange",
    },
    # Hashtags, as people type them.
    "web/templates/web/rooms.html": {"#rates, #fx"},
    # The shell command to check an export's manifest.
    "web/templates/web/console/exports.html": {
        "manage.py export_verify EXPORT --public-key parley-signing-key.pem",
        "(",
        ").",
    },
}
# Words that read the same in every language: the product's name.
ALWAYS_ALLOWED = {"Parley", "SHA-256", "—", "·", "#", "…"}

READ_ATTRIBUTES = ("title", "placeholder", "alt", "aria-label", "label")


def _files(globs: list[str]) -> list[Path]:
    found: set[Path] = set()
    for pattern in globs:
        found.update(ROOT.glob(pattern))
    return sorted(path for path in found if "/.venv/" not in str(path))


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _has_words(text: str) -> bool:
    words = [word for word in text.split() if word not in ALWAYS_ALLOWED]
    return bool(re.search(r"[^\W\d_]", " ".join(words)))


# -- templates ---------------------------------------------------------------------------------

_TAG = re.compile(
    r"<(/?)([a-zA-Z0-9-]+)((?:[\s\x01]+[^\s=>\x01]+(?:=(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)"
    r"[\s\x01]*/?>"
)
_ATTRIBUTE = re.compile(r"([^\s=\x01]+)=(\"[^\"]*\"|'[^']*')")
_RAW_TEXT_ELEMENTS = ("script", "style", "pre", "code")
MARK = "\x01"  # where a template tag or variable stood


def _flatten(source: str) -> str:
    """Return the template with every tag and variable replaced by MARK and every
    {% blocktranslate %} block by MARK (newlines kept, so line numbers stay right)."""
    out, depth = [], 0
    for token in Lexer(source).tokenize():
        newlines = "\n" * token.contents.count("\n")
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents else ""
            if name in ("blocktranslate", "blocktrans"):
                depth += 1
            elif name in ("endblocktranslate", "endblocktrans"):
                depth -= 1
            out.append(MARK + newlines)
        elif token.token_type == TokenType.TEXT and not depth:
            out.append(token.contents)
        else:
            out.append(MARK + newlines)
    return "".join(out)


def template_unmarked(source: str) -> list[tuple[int, str]]:
    """Return (line, text) for every piece of readable text outside the translation tags."""
    flat = _flatten(source)
    found = []
    raw: list[str] = []  # open raw-text elements (their content is code or an example)
    position = 0

    def text_at(start: int, text: str) -> None:
        # Attributes written outside a tag ({% block body_attributes %}) and the doctype.
        text = re.sub(r"[\w-]+=(\"[^\"]*\"?|'[^']*'?)|<!doctype html>", MARK, text, flags=re.I)
        if raw:
            return
        line = flat[:start].count("\n") + 1
        found.extend(
            (line, " ".join(piece.split())) for piece in text.split(MARK) if _has_words(piece)
        )

    for match in _TAG.finditer(flat):
        text_at(position, flat[position : match.start()])
        closing, tag, attributes = match.group(1), match.group(2).lower(), match.group(3)
        if tag in _RAW_TEXT_ELEMENTS:
            if closing and tag in raw:
                raw.remove(tag)
            elif not closing:
                raw.append(tag)
        for name, value in _ATTRIBUTE.findall(attributes or ""):
            value = value[1:-1]
            readable = name.lower() in READ_ATTRIBUTES or (
                # an input's value is its caption; a button's is what the form sends
                name.lower() == "value"
                and tag == "input"
                and re.search(r"type=[\"']?submit", attributes)
            )
            if readable:
                text_at(match.start(), value)
        position = match.end()
    text_at(position, flat[position:])
    return found


# -- JavaScript --------------------------------------------------------------------------------

_JS_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<template>`)
  | (?P<name>[A-Za-z_$][\w$]*)
  | (?P<number>\d[\w.]*)
  | (?P<punct>=>|===|!==|==|!=|\?\?|\?\.|\.\.\.|&&|\|\||[-+*/%<>!=&|^~?:;,.(){}\[\]])
    """,
    re.VERBOSE | re.DOTALL,
)
_REGEX_BEFORE = {
    "(",
    ",",
    "=",
    ":",
    "[",
    "!",
    "&",
    "|",
    "?",
    "{",
    "}",
    ";",
    "return",
    "=>",
    "&&",
    "||",
    "??",
    "===",
    "!==",
    "==",
    "!=",
    "typeof",
    "case",
}


class JsToken:
    def __init__(self, kind: str, text: str, line: int, opening: int | None = None) -> None:
        # opening: for a template literal's later parts, the index of its first part
        self.kind, self.text, self.line, self.opening = kind, text, line, opening


def js_tokens(source: str) -> list[JsToken]:
    """Tokenize enough JavaScript to see string literals in their context. A template
    literal is one token whose text is its literal parts; its ${} expressions are tokens of
    their own (so a gettext() inside one is seen)."""
    tokens: list[JsToken] = []
    position, line = 0, 1
    stack: list[tuple[int, int]] = []  # (brace depth at its ${, index of its first part)
    depth = 0

    def template_from(start: int, opening: int | None = None) -> int:
        """Read template text from start (after ` or }) to ${ or the closing `."""
        nonlocal line
        i, text = start, []
        first = len(tokens) if opening is None else opening
        while i < len(source):
            char = source[i]
            if char == "\\":
                text.append(source[i : i + 2])
                i += 2
                continue
            if char == "`":
                tokens.append(JsToken("template", "".join(text), line, opening))
                line += "".join(text).count("\n")
                return i + 1
            if source.startswith("${", i):
                tokens.append(JsToken("template", "".join(text) + " ", line, opening))
                line += "".join(text).count("\n")
                stack.append((depth, first))
                return i + 2
            text.append(char)
            i += 1
        raise ValueError("unterminated template literal")

    while position < len(source):
        char = source[position]
        if char == "}" and stack and stack[-1][0] == depth:
            _depth, first = stack.pop()
            position = template_from(position + 1, first)
            continue
        if char == "/" and not source.startswith(("//", "/*"), position):
            previous = tokens[-1].text if tokens else "("
            if previous in _REGEX_BEFORE:
                match = re.compile(r"/(?:[^/\\\n\[]|\\.|\[(?:[^\]\\]|\\.)*\])+/[a-z]*").match(
                    source, position
                )
                if match:
                    tokens.append(JsToken("regex", match.group(0), line))
                    position = match.end()
                    continue
        match = _JS_TOKEN.match(source, position)
        if match is None:
            raise ValueError(f"cannot read line {line}: {source[position : position + 30]!r}")
        kind, text = match.lastgroup, match.group(0)
        if kind == "template":
            position = template_from(match.end())
            continue
        if kind == "punct" and text == "{":
            depth += 1
        elif kind == "punct" and text == "}":
            depth -= 1
        if kind not in ("space", "comment"):
            tokens.append(JsToken(kind, text, line))
        line += text.count("\n")
        position = match.end()
    return tokens


_GETTEXT = {"gettext", "ngettext", "pgettext", "npgettext", "gettext_noop"}
# A literal right after one of these calls' "(" is code, not words.
_CODE_CALLS = {
    "querySelector",
    "querySelectorAll",
    "getElementById",
    "closest",
    "addEventListener",
    "removeEventListener",
    "dispatchEvent",
    "matchMedia",
    "setAttribute",
    "getAttribute",
    "removeAttribute",
    "hasAttribute",
    "toggleAttribute",
    "createElement",
    "Error",
    "TypeError",
    "CustomEvent",
    "Event",
    "define",
    "get",
    "set",
    "has",
    "delete",
    "api",
    "archive",
    "apiUpload",
    "fetch",
    "URL",
    "match",
    "replace",
    "split",
    "join",
    "startsWith",
    "endsWith",
    "includes",
    "debug",
    "log",
    "warn",
    "error",
    "info",
    "close",
    "toggle",
    "add",
    "remove",
}
# A literal that is the value of one of these keys is code.
_CODE_KEYS = {
    "class",
    "className",
    "type",
    "role",
    "id",
    "href",
    "src",
    "rel",
    "method",
    "name",
    "for",
    "datetime",
    "loading",
    "kind",
    "variant",
    "tabindex",
    "autocomplete",
    "inputmode",
    "action",
    "target",
    "accept",
    "download",
    "part",
    "mode",
    "state",
    "code",
    "event",
    "status",
    "format",
    "dateStyle",
    "timeStyle",
    "hour",
    "minute",
    "month",
    "day",
    "year",
    "weekday",
    "style",
    "colour",
    "sort",
    "aria-controls",
    "aria-describedby",
    "aria-labelledby",
    "aria-live",
    "aria-hidden",
    "aria-haspopup",
    "aria-expanded",
    "aria-current",
    "aria-autocomplete",
    "aria-modal",
}


def _reads_as_words(text: str) -> bool:
    text = re.sub(r"\\[nt]", " ", text)
    if not _has_words(text):
        return False
    if re.search(r"[^\W\d_]{2,}[ \u00a0]+[^\W\d_(]", text):
        return True  # two words with a space between them
    if re.fullmatch(r"\s*[A-Z][a-z]+[.:…!?]?\s*", text):
        return True  # a capitalised word: a label
    return bool(re.search(r"[a-z][.!?…:]\s*$", text)) and " " in text.strip()


def _key_of(tokens: list[JsToken], index: int) -> str | None:
    """Return the object key whose value expression holds tokens[index], if any."""
    depth = 0
    for back in range(index - 1, -1, -1):
        text = tokens[back].text
        if text in (")", "]", "}"):
            depth += 1
        elif text in ("(", "[", "{"):
            if depth == 0:
                return None
            depth -= 1
        elif depth == 0 and text in (",", ";"):
            return None
        elif depth == 0 and text == ":" and back >= 1:
            before = tokens[back - 1]
            if (
                before.kind in ("name", "string")
                and back >= 2
                and tokens[back - 2].text
                in (
                    "{",
                    ",",
                )
            ):
                return before.text.strip("\"'")
    return None


def script_unmarked(source: str) -> list[tuple[int, str]]:
    """Return (line, text) for every literal that reads as words outside gettext()."""
    tokens = js_tokens(source)
    lines = source.split("\n")
    found = []
    calls: list[str | None] = []  # for each open "(": the name called, if any
    for index, token in enumerate(tokens):
        if token.kind == "punct" and token.text == "(":
            before = tokens[index - 1] if index else None
            calls.append(before.text if before is not None and before.kind == "name" else None)
            continue
        if token.kind == "punct" and token.text == ")":
            if calls:
                calls.pop()
            continue
        if token.kind not in ("string", "template"):
            continue
        text = token.text[1:-1] if token.kind == "string" else token.text
        if not _reads_as_words(text):
            continue
        if "i18n-ignore" in lines[token.line - 1]:
            continue
        if any(call in _GETTEXT for call in calls):
            continue
        # A template literal's later parts stand where its first part stands.
        where = token.opening if token.opening is not None else index
        previous = tokens[where - 1] if where else None
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if following is not None and following.text == "in":
            continue  # "Notification" in window
        if previous is not None and previous.text in ("===", "!==", "==", "!=", "case"):
            continue
        if following is not None and following.text in ("===", "!==", "==", "!="):
            continue
        if previous is not None and previous.text in ("import", "from"):
            continue
        if calls and calls[-1] in _CODE_CALLS and previous is not None and previous.text in "(,":
            continue
        # A key of an object literal: {"Content-Type": ...}.
        if (
            following is not None
            and following.text == ":"
            and previous is not None
            and (previous.text in ("{", ","))
        ):
            continue
        # The value of a key that holds code: { class: "hit record--x" }, also as one branch
        # of a condition ({ class: isOn ? "tag tag--on" : "tag" }).
        if _key_of(tokens, where) in _CODE_KEYS:
            continue
        if all(re.fullmatch(r"[a-z0-9_-]+", word) for word in text.split()) and "-" in text:
            continue  # class names: "tag tag--member"
        if (
            previous is not None
            and previous.text == "="
            and where >= 2
            and tokens[where - 2].text
            in ("className", "type", "href", "src", "name", "id", "rel", "target", "key")
        ):
            continue
        found.append((token.line, text.strip()))
    return found


# -- the tests -------------------------------------------------------------------------------


def _report(path: Path, unmarked: list[tuple[int, str]], how: str) -> str:
    allowed = ALLOWED.get(_relative(path), set())
    left = [(line, text) for line, text in unmarked if text not in allowed]
    return "\n".join(f"{_relative(path)}:{line}: {text!r} is not {how}" for line, text in left)


def test_the_checked_files_are_the_pages_and_scripts():
    templates = {_relative(path) for path in _files(TEMPLATE_GLOBS)}
    scripts = {_relative(path) for path in _files(SCRIPT_GLOBS)}
    # The globs find the pages people use; a glob that matched nothing would check nothing.
    assert {
        "web/templates/web/base.html",
        "web/templates/web/login.html",
        "web/templates/web/home.html",
        "web/templates/web/rooms.html",
        "web/templates/web/console/search.html",
        "web/templates/404.html",
    } <= templates
    assert {
        "web/static/js/app.js",
        "web/static/js/conversations.js",
        "web/static/js/rooms-page.js",
        "web/static/js/console/search.js",
    } <= scripts
    for name in ALLOWED:
        assert (ROOT / name).exists(), f"ALLOWED names {name}, which no longer exists"


@pytest.mark.parametrize("path", _files(TEMPLATE_GLOBS), ids=lambda path: _relative(path))
def test_template_text_is_marked_for_translation(path):
    problems = _report(
        path, template_unmarked(path.read_text()), "inside {% translate %}/{% blocktranslate %}"
    )
    assert not problems, "Text people read is not marked for translation:\n" + problems


@pytest.mark.parametrize("path", _files(SCRIPT_GLOBS), ids=lambda path: _relative(path))
def test_script_strings_are_marked_for_translation(path):
    problems = _report(path, script_unmarked(path.read_text()), "wrapped in gettext()")
    assert not problems, "Strings people read are not marked for translation:\n" + problems


# -- the checker itself ----------------------------------------------------------------------


def test_the_template_check_finds_unmarked_text_and_attributes():
    source = (
        "{% load i18n %}<h1>Audit log</h1><p>{% translate 'Fine' %}</p>"
        '<input placeholder="type a name"><a title="{% translate \'Also fine\' %}">x</a>'
        "{% blocktranslate %}Case {{ id }}{% endblocktranslate %}<code>manage.py</code>"
    )
    assert template_unmarked(source) == [(1, "Audit log"), (1, "type a name"), (1, "x")]


def test_the_script_check_finds_unmarked_strings_and_passes_code():
    source = "\n".join(
        [
            'status.textContent = "Connection lost. Reconnecting…";',
            'h("button", { class: "link-button primary", type: "button" }, "Open context");',
            'h("dt", {}, gettext("Scope"));',
            "label.textContent = `${count} records found`;",
            "label.textContent = interpolate(gettext('%(n)s found'), { n }, true);",
            'if (event.key === "Escape") close();',
            'document.querySelector("dialog [data-close]");',
            'headers["Content-Type"] = "application/json";',
            'x.textContent = ok ? gettext("Saved.") : `${gettext("Failed")}: ${why}`;',
            'input.placeholder = "type a name"; // i18n-ignore',
        ]
    )
    assert script_unmarked(source) == [
        (1, "Connection lost. Reconnecting…"),
        (2, "Open context"),
        (4, "records found"),
    ]
