import pytest

from archiving.search.query import (
    And,
    InvalidQuery,
    Not,
    Or,
    Term,
    query_matches,
    query_parse,
    query_terms,
)


def test_adjacent_words_are_anded_and_or_binds_looser():
    assert query_parse("merger bonus OR lunch") == Or(
        (And((Term(("merger",)), Term(("bonus",)))), Term(("lunch",)))
    )


def test_phrase_prefix_not_and_parentheses():
    assert query_parse('"Project Blue" AND (merg* OR deal) -draft') == And(
        (
            Term(("project", "blue")),
            Or((Term(("merg",), is_prefix=True), Term(("deal",)))),
            Not(Term(("draft",))),
        )
    )


def test_punctuated_word_is_a_phrase_of_its_pieces():
    assert query_parse("e-mail") == Term(("e", "mail"))


def test_empty_query_means_filters_only():
    assert query_parse("   ") is None
    assert query_matches(None, "anything") is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"open phrase', "never closed"),
        ("(merger OR bonus", "never closed"),
        ("merger)", "never opened"),
        ("merger OR", "Incomplete query"),
        ("AND merger", "needs a search term on both sides"),
        ("()", "empty"),
        ("m*", "at least 2 letters"),
        ("me*rger", "only at the end"),
        ("NOT merger", "must be combined"),
        ("-merger -bonus", "must be combined"),
        ("merger OR -bonus", "must be combined"),
        ('""', "no letters or digits"),
        ("(" * 20 + "x" + ")" * 20, "nest deeper"),
        (" ".join(["w"] * 65), "at most 64"),
        ("x" * 1001, "longer than 1000"),
    ],
)
def test_invalid_queries_say_what_is_wrong(text, message):
    with pytest.raises(InvalidQuery) as excinfo:
        query_parse(text)
    assert message in excinfo.value.detail
    assert excinfo.value.status == 400


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("merger", "The MERGER is on.", True),
        ("merger", "mergers and acquisitions", False),
        ("merg*", "mergers and acquisitions", True),
        ('"project blue"', "about project blue today", True),
        ('"project blue"', "blue project", False),
        ("merger -draft", "merger draft v2", False),
        ("merger -draft", "merger final", True),
        ("(lunch OR dinner) friday", "Dinner on Friday?", True),
        ("(lunch OR dinner) friday", "Dinner on Monday?", False),
        ("café", "CAFÉ au lait", True),
        ("会议", "明天 会议 取消", True),
    ],
)
def test_query_matches_reference_semantics(query, text, expected):
    assert query_matches(query_parse(query), text) is expected


def test_query_terms_lists_only_positive_terms():
    node = query_parse('"project blue" merg* -draft')
    assert query_terms(node) == [Term(("project", "blue")), Term(("merg",), is_prefix=True)]
