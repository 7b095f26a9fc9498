"""History search (GET /api/v1/search/) answers words exactly as the compliance search does.

Both run on one search core: the same query language, normalisation, highlighter, index
backend and indexing pipeline. The same messages, searched by one of their participants and
by a compliance officer, give the same hits and the same marks; only the scope differs ("my
conversations" as they read now, against the archive with its originals). Every test runs on
every search backend.
"""

import pytest
from django.contrib.auth.models import Group

from archiving.access import COMPLIANCE_GROUP
from archiving.models import ArchiveIndexOutbox
from chat import services
from tests.search_backends import BACKENDS, index_drain, search_backend_use


@pytest.fixture(params=BACKENDS, autouse=True)
def backend_name(request, settings, tmp_path, db):
    with search_backend_use(request.param, settings=settings, tmp_path=tmp_path) as name:
        from archiving.search.backend import backend_get

        backend_get().ensure_setup()
        yield name


BODIES = [
    "Café au lait at the CAFÉ downstairs",
    "明天的会议纪要已经发出",
    "see merger_term_sheet.pdf",
    "the e-mail about Straße works",
    "cafe without accents",
    "내일 회의록을 보내 드리겠습니다",
    "회의 록은 금요일에 공유합니다",
]


@pytest.fixture
def posted(alice, bob, django_capture_on_commit_callbacks):
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    with django_capture_on_commit_callbacks(execute=True):  # runs the history indexing task
        messages = {
            body: services.message_post(sender=alice, conversation_id=conversation.pk, body=body)[0]
            for body in BODIES
        }
    index_drain()
    return messages


def _history(client, query):
    response = client.get("/api/v1/search/", {"q": query})
    assert response.status_code == 200, response.json()
    return [(hit["body"], hit["highlight"]) for hit in response.json()["results"]]


def _bodies(client, query, **params):
    response = client.get("/api/v1/search/", {"q": query, **params})
    assert response.status_code == 200, response.json()
    return [hit["body"] for hit in response.json()["results"]]


def _archive(client, query):
    response = client.post("/api/v1/archive/search/", {"query": query}, format="json")
    assert response.status_code == 200, response.json()
    return [(hit["body"], hit["highlight"]) for hit in response.json()["hits"]]


@pytest.mark.parametrize(
    ("query", "bodies"),
    [
        ("CAFÉ", ["Café au lait at the CAFÉ downstairs"]),
        ("cafe", ["cafe without accents"]),
        ("会议纪要", ["明天的会议纪要已经发出"]),
        ("纪要", ["明天的会议纪要已经发出"]),
        ("merger_term_sheet", ["see merger_term_sheet.pdf"]),
        ("STRASSE", ["the e-mail about Straße works"]),
        ("straße", ["the e-mail about Straße works"]),
        ('"e mail"', ["the e-mail about Straße works"]),
        ("(café OR 会议) NOT lait", ["明天的会议纪要已经发出"]),
        # Korean: the word with its particle (회의록을), and spaced apart (회의 록은).
        ("회의록", ["회의 록은 금요일에 공유합니다", "내일 회의록을 보내 드리겠습니다"]),
        ("회의록을", ["내일 회의록을 보내 드리겠습니다"]),
        ("금요일", ["회의 록은 금요일에 공유합니다"]),
        ("회록", []),
    ],
)
def test_an_employee_and_an_officer_get_the_same_hits_and_marks(
    posted, bob, make_person, api_client_for, query, bodies
):
    officer = make_person("olga")
    officer.groups.add(Group.objects.get_or_create(name=COMPLIANCE_GROUP)[0])

    mine = _history(api_client_for(bob), query)
    archived = _archive(api_client_for(officer), query)

    assert [body for body, _ in mine] == bodies
    assert mine == archived


def test_history_highlight_marks_cjk_characters_and_folded_words(posted, bob, api_client_for):
    [(_, marked)] = _history(api_client_for(bob), "会议纪要")
    assert marked == "明天的<mark>会</mark><mark>议</mark><mark>纪</mark><mark>要</mark>已经发出"

    [(_, marked)] = _history(api_client_for(bob), "회의록을")
    assert (
        marked
        == "내일 <mark>회</mark><mark>의</mark><mark>록</mark><mark>을</mark> 보내 드리겠습니다"
    )

    [(_, marked)] = _history(api_client_for(bob), "café")
    assert marked == "<mark>Café</mark> au lait at the <mark>CAFÉ</mark> downstairs"


def test_an_edit_replaces_the_words_and_a_deletion_removes_the_message(
    alice, bob, make_person, api_client_for
):
    officer = make_person("olga")
    officer.groups.add(Group.objects.get_or_create(name=COMPLIANCE_GROUP)[0])
    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    kept, _ = services.message_post(sender=alice, conversation_id=conversation.pk, body="apples")
    gone, _ = services.message_post(sender=alice, conversation_id=conversation.pk, body="pears")
    services.message_edit(editor=alice, message_id=kept.pk, body="oranges")
    services.message_delete(actor=alice, message_id=gone.pk)
    index_drain()
    bob_client = api_client_for(bob)

    assert _bodies(bob_client, "oranges") == ["oranges"]
    assert _bodies(bob_client, "apples") == []
    assert _bodies(bob_client, "pears") == []
    assert not ArchiveIndexOutbox.objects.exists()
    # The archive keeps what was said: the officer still finds the original and the deleted.
    assert [body for body, _ in _archive(api_client_for(officer), "apples OR pears")] == [
        "pears",
        "apples",
    ]


def test_a_newcomer_finds_nothing_said_before_and_a_leaver_nothing_said_after(
    alice, bob, carol, api_client_for
):
    group, _ = services.conversation_create(creator=alice, usernames=["bob"], title="Deals")
    services.message_post(sender=alice, conversation_id=group.pk, body="deal before carol")
    services.participant_add(actor=alice, conversation_id=group.pk, username="carol")
    services.message_post(sender=alice, conversation_id=group.pk, body="deal with carol")
    services.participant_leave(person=bob, conversation_id=group.pk)
    services.message_post(sender=alice, conversation_id=group.pk, body="deal after bob")
    index_drain()

    assert _bodies(api_client_for(carol), "deal") == ["deal after bob", "deal with carol"]
    assert _bodies(api_client_for(bob), "deal") == ["deal with carol", "deal before carol"]
    assert _bodies(api_client_for(alice), "deal") == [
        "deal after bob",
        "deal with carol",
        "deal before carol",
    ]


def test_history_search_is_limited_to_my_conversations_and_pages_newest_first(
    alice, bob, carol, api_client_for
):
    mine, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    theirs, _ = services.conversation_direct_get_or_create(person=alice, other=carol)
    for n in range(5):
        services.message_post(sender=alice, conversation_id=mine.pk, body=f"report {n}")
    services.message_post(sender=alice, conversation_id=theirs.pk, body="report for carol")
    index_drain()
    client = api_client_for(bob)

    first = client.get("/api/v1/search/", {"q": "report", "limit": 3}).json()
    second = client.get(
        "/api/v1/search/", {"q": "report", "limit": 3, "before": first["next_before"]}
    ).json()

    assert [hit["body"] for hit in first["results"]] == ["report 4", "report 3", "report 2"]
    assert [hit["body"] for hit in second["results"]] == ["report 1", "report 0"]
    assert second["next_before"] is None


def test_a_history_search_without_a_word_is_refused(alice, api_client_for):
    response = api_client_for(alice).get("/api/v1/search/", {"q": "  ( ) "})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_query"


def test_reindex_rebuilds_history_search_from_the_conversations(alice, bob, api_client_for):
    from archiving.search.indexing import search_reindex

    conversation, _ = services.conversation_direct_get_or_create(person=alice, other=bob)
    services.message_post(sender=alice, conversation_id=conversation.pk, body="kiwi")
    edited, _ = services.message_post(sender=alice, conversation_id=conversation.pk, body="x")
    services.message_edit(editor=alice, message_id=edited.pk, body="kiwi mango")
    index_drain()

    search_reindex(actor=None)
    index_drain()

    assert _bodies(api_client_for(bob), "kiwi") == ["kiwi mango", "kiwi"]
    assert _bodies(api_client_for(bob), "mango") == ["kiwi mango"]
