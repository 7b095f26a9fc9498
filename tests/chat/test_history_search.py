"""History search (GET /api/v1/search/) answers words exactly as the compliance search does.

Both run on one search core: the same query language, normalisation and highlighter. The same
messages, searched by one of their participants and by a compliance officer, give the same hits
and the same marks; only the scope differs ("my conversations" against the archive).
"""

import pytest
from django.contrib.auth.models import Group

from archiving.access import COMPLIANCE_GROUP
from archiving.search.indexing import search_index_pending as archive_index_pending
from chat import services

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
    archive_index_pending()
    return messages


def _history(client, query):
    response = client.get("/api/v1/search/", {"q": query})
    assert response.status_code == 200, response.json()
    return [(hit["body"], hit["highlight"]) for hit in response.json()["results"]]


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
