"""Pages in Korean and Traditional Chinese: the browser's language, the page control, the
person's own setting, error pages and the JavaScript catalogue (no browser: the test client)."""

import json
import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from archiving.access import COMPLIANCE_GROUP
from directory import services as directory


def _signed_in(person, **headers) -> Client:
    client = Client(**headers)
    client.force_login(person)
    return client


def _title(response) -> str:
    return re.search(r"<title>(.*?)</title>", response.content.decode()).group(1)


@pytest.mark.parametrize(
    ("accept", "lang", "title", "button"),
    [
        ("en-US,en;q=0.9", "en", "Sign in · Parley", "Sign in"),
        ("ko-KR,ko;q=0.9", "ko", "로그인 · Parley", "로그인"),
        ("zh-TW,zh;q=0.9", "zh-hant", "登入 · Parley", "登入"),
    ],
)
def test_the_sign_in_page_speaks_the_browsers_language(db, accept, lang, title, button):
    response = Client(HTTP_ACCEPT_LANGUAGE=accept).get("/login/")

    page = response.content.decode()
    assert response.status_code == 200
    assert f'<html lang="{lang}"' in page
    assert _title(response) == title
    assert f'<button type="submit" class="primary wide">{button}</button>' in page
    assert response["Content-Language"] == lang
    assert "Accept-Language" in response["Vary"]


def test_a_visitor_picks_a_language_on_the_sign_in_page(db):
    client = Client(HTTP_ACCEPT_LANGUAGE="en-US")

    response = client.post("/language/", {"language": "zh-hant", "next": "/login/"})

    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert _title(client.get("/login/")) == "登入 · Parley"


def test_the_page_control_saves_a_signed_in_persons_language(alice):
    client = _signed_in(alice, HTTP_ACCEPT_LANGUAGE="en-US")

    client.post("/language/", {"language": "ko", "next": "/rooms/"})
    alice.refresh_from_db()
    page = client.get("/rooms/")

    assert alice.language == "ko"
    assert '<html lang="ko"' in page.content.decode()
    # "As my browser asks" clears it again.
    client.post("/language/", {"language": "", "next": "/rooms/"})
    alice.refresh_from_db()
    assert alice.language == ""
    assert '<html lang="en"' in client.get("/rooms/").content.decode()


def test_the_page_control_never_redirects_off_site(alice):
    response = _signed_in(alice).post(
        "/language/", {"language": "ko", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_a_persons_time_zone_reaches_the_page_for_its_scripts(alice):
    directory.person_preferences_set(person=alice, time_zone="Asia/Taipei")

    page = _signed_in(alice).get("/rooms/").content.decode()

    assert 'data-time-zone="Asia/Taipei"' in page


def test_the_console_is_translated_for_an_officer(make_person):
    officer = make_person("cora")
    officer.groups.add(Group.objects.get_or_create(name=COMPLIANCE_GROUP)[0])

    page = _signed_in(officer, HTTP_ACCEPT_LANGUAGE="ko").get("/console/cases/")

    text = page.content.decode()
    assert _title(page) == "사건 · Parley"
    for words in ("사건 열기", "감사 로그", "현재 상태 로그", "보관소 상태", "로그아웃"):
        assert words in text


def test_the_console_refusal_is_translated(alice):
    page = _signed_in(alice, HTTP_ACCEPT_LANGUAGE="zh-TW").get("/console/")

    assert page.status_code == 403
    assert "僅限合規性人員" in page.content.decode()


def test_an_unknown_page_says_so_in_the_browsers_language(db):
    response = Client(HTTP_ACCEPT_LANGUAGE="ko").get("/no-such-page/")

    assert response.status_code == 404
    assert "이 페이지가 없거나 참가하지 않은 대화입니다." in response.content.decode()


def test_an_unknown_api_path_answers_json_in_the_browsers_language(db):
    response = Client(HTTP_ACCEPT_LANGUAGE="zh-TW").get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "detail": "/api/v1/no-such-thing/ 沒有端點。"}
    }


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("ko", "일치하는 항목이 없습니다."), ("zh-TW", "沒有符合的項目。"), ("en", None)],
)
def test_the_javascript_catalogue_carries_the_clients_strings(db, accept, expected):
    response = Client(HTTP_ACCEPT_LANGUAGE=accept).get("/jsi18n/?v=x")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    found = re.search(r"const newcatalog = (\{.*?\});", response.content.decode(), re.S)
    catalog = json.loads(found.group(1)) if found else {}  # English: no catalogue, the msgids
    assert catalog.get("Nothing matches.") == expected
