"""The light markdown renderer (web/static/js/markdown.js), run in the browser: what each
body becomes in the page's DOM."""

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CASES = [
    ("plain & <b>not bold</b>", "plain &amp; &lt;b&gt;not bold&lt;/b&gt;"),
    ("**bold** and *italic*", "<strong>bold</strong> and <em>italic</em>"),
    ("**bold with *italic* inside**", "<strong>bold with <em>italic</em> inside</strong>"),
    ("`<script>` stays code", "<code>&lt;script&gt;</code> stays code"),
    ("`**not bold**`", "<code>**not bold**</code>"),
    (
        "[desk](https://example.com/a?b=1&c=2)",
        '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" '
        'rel="noopener noreferrer">desk</a>',
    ),
    (
        "see http://example.com/x.",
        'see <a href="http://example.com/x" target="_blank" rel="noopener noreferrer">'
        "http://example.com/x</a>.",
    ),
    ("[x](javascript:alert(1))", "[x](javascript:alert(1))"),
    ("[x](data:text/html,<b>hi</b>)", "[x](data:text/html,&lt;b&gt;hi&lt;/b&gt;)"),
    ('<a href="javascript:alert(1)">x</a>', '&lt;a href="javascript:alert(1)"&gt;x&lt;/a&gt;'),
    ("line one\nline two", "line one<br>line two"),
    ("2 * 3 * 4", "2 * 3 * 4"),
    ("** not bold **", "** not bold **"),
]


def test_markdown_renders_a_small_whitelist_and_everything_else_as_text(browsing):
    page = browsing.page(browsing.context(), "/login/")

    rendered = page.evaluate(
        """async (bodies) => {
            const { renderMarkdown } = await import("/static/js/markdown.js");
            return bodies.map((body) => {
                const holder = document.createElement("div");
                holder.append(renderMarkdown(body));
                return holder.innerHTML;
            });
        }""",
        [body for body, _ in CASES],
    )

    assert list(zip([body for body, _ in CASES], rendered, strict=True)) == CASES


def test_search_highlights_mark_only_the_hits(browsing):
    page = browsing.page(browsing.context(), "/login/")

    html = page.evaluate(
        """async () => {
            const { renderHighlight } = await import("/static/js/markdown.js");
            const holder = document.createElement("div");
            holder.append(renderHighlight(
                "the &lt;img src=x&gt; <mark>quarterly</mark> &amp; more"));
            return holder.innerHTML;
        }"""
    )

    assert html == "the &lt;img src=x&gt; <mark>quarterly</mark> &amp; more"
