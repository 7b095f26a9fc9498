"""Which language Parley answers in: the person's setting, else the browser's Accept-Language,
else the organisation's default; API error `detail` follows it while `code` stays English."""

from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework.test import APIClient

from config.asgi import application
from directory import services as directory
from directory.locale import language_choose, language_from_accept, organisation_defaults
from directory.models import OrganisationSettings, Person

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _compiled():
    for language in ("ko", "zh_Hant"):
        compiled = ROOT / "locale" / language / "LC_MESSAGES" / "django.mo"
        assert compiled.exists(), f"{compiled} is missing: scripts/test.sh compiles the catalogues"


def speaker(make_person, username: str, language: str) -> Person:
    person = make_person(username)
    return directory.person_preferences_set(person=person, language=language)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ko-KR,ko;q=0.9,en-US;q=0.8", "ko"),
        ("zh-TW,zh;q=0.9", "zh-hant"),
        ("zh-Hant-HK", "zh-hant"),
        ("zh-HK", "zh-hant"),
        ("fr-FR, ko;q=0.5", "ko"),
        ("en-GB", "en"),
        ("fr-FR, de", None),
        ("", None),
    ],
)
def test_the_browsers_language_is_matched_to_one_parley_speaks(header, expected):
    assert language_from_accept(header) == expected


def test_the_persons_setting_wins_over_the_browser_and_the_organisation(make_person):
    person = speaker(make_person, "minji", "zh-hant")
    assert language_choose(person=person, accept_language="ko-KR") == "zh-hant"
    person.language = ""
    assert language_choose(person=person, accept_language="ko-KR") == "ko"
    assert language_choose(person=person, accept_language="fr-FR") == "en"


def test_an_administrator_sets_the_organisations_default(db):
    directory.organisation_settings_set(default_language="ko", default_time_zone="Asia/Seoul")

    assert OrganisationSettings.objects.get(pk=1).default_language == "ko"
    assert organisation_defaults().time_zone == "Asia/Seoul"
    assert language_choose(accept_language="fr-FR") == "ko"
    assert language_choose(accept_language="zh-TW") == "zh-hant"  # the browser still chooses


def _detail(response) -> tuple[str, str]:
    body = response.json()["error"]
    return body["code"], body["detail"]


def test_api_errors_keep_their_code_and_translate_their_detail(alice, api_client_for):
    client = api_client_for(alice)
    answers = {
        language: _detail(
            client.post(
                "/api/v1/conversations/",
                {"participants": ["nobody-here"]},
                format="json",
                HTTP_ACCEPT_LANGUAGE=language,
            )
        )
        for language in ("en", "ko-KR", "zh-TW")
    }

    assert answers == {
        "en": ("person_not_found", "No active person named nobody-here."),
        "ko-KR": ("person_not_found", "nobody-here(이)라는 활성 사용자가 없습니다."),
        "zh-TW": ("person_not_found", "沒有名為 nobody-here 的作用中人員。"),
    }


def test_a_persons_own_language_is_used_for_their_token_whatever_the_browser(
    make_person, api_client_for
):
    person = speaker(make_person, "jiwoo", "ko")
    response = api_client_for(person).get(
        "/api/v1/users/", {"q": "x" * 201}, HTTP_ACCEPT_LANGUAGE="en-US"
    )

    assert response.status_code == 400
    assert _detail(response) == ("invalid", "q는 200자로 제한됩니다.")
    assert response["Content-Language"] == "ko"


def test_an_unknown_token_is_refused_in_the_browsers_language(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="zh-TW")

    assert response.status_code == 401
    assert _detail(response) == ("not_authenticated", "權杖未知、已撤銷或已過期。")


def test_preferences_are_read_and_set_through_the_api(alice, api_client_for):
    client = api_client_for(alice)

    before = client.get("/api/v1/me/preferences/", HTTP_ACCEPT_LANGUAGE="zh-TW").json()
    changed = client.patch(
        "/api/v1/me/preferences/",
        {"language": "ko", "time_zone": "Asia/Seoul"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-TW",
    )

    assert before["language"] == ""
    assert before["effective_language"] == "zh-hant"
    assert [item["code"] for item in before["languages"]] == ["en", "ko", "zh-hant"]
    assert changed.status_code == 200
    assert changed.json()["effective_language"] == "ko"
    assert changed.json()["effective_time_zone"] == "Asia/Seoul"
    assert changed["Content-Language"] == "ko"  # the answer is already in the new language
    alice.refresh_from_db()
    assert (alice.language, alice.time_zone) == ("ko", "Asia/Seoul")
    cleared = client.patch("/api/v1/me/preferences/", {"language": ""}, format="json")
    assert cleared.json()["language"] == ""
    alice.refresh_from_db()
    assert (alice.language, alice.time_zone) == ("", "Asia/Seoul")


@pytest.mark.parametrize(
    ("body", "expected_code"),
    [
        ({"language": "fr"}, "invalid"),
        ({"language": 3}, "invalid"),
        # the same refusal as PATCH /api/v1/me/ {"time_zone"}: one service sets the zone
        ({"time_zone": "Mars/Olympus_Mons"}, "unknown_time_zone"),
        ({"language": "ko", "time_zone": "nowhere"}, "unknown_time_zone"),
        ({"theme": "dark"}, "invalid"),
    ],
)
def test_bad_preferences_are_refused_and_nothing_is_saved(
    alice, api_client_for, body, expected_code
):
    response = api_client_for(alice).patch(
        "/api/v1/me/preferences/", body, format="json", HTTP_ACCEPT_LANGUAGE="ko"
    )

    assert response.status_code == 400
    code, detail = _detail(response)
    assert code == expected_code
    assert detail
    assert not detail.isascii()  # said in Korean
    saved = Person.objects.get(pk=alice.pk)
    assert (saved.language, saved.time_zone) == ("", "")


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_socket_error_frames_speak_the_persons_language(make_person):
    from channels.db import database_sync_to_async

    person = await database_sync_to_async(speaker)(make_person, "seoyeon", "ko")
    _, plaintext = await database_sync_to_async(directory.token_create)(person=person)
    communicator = WebsocketCommunicator(
        application,
        "/ws/",
        headers=[
            (b"authorization", b"Bearer " + plaintext.encode()),
            (b"accept-language", b"zh-TW"),
        ],
    )
    is_connected, _ = await communicator.connect(timeout=5)
    assert is_connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "hello"

    await communicator.send_json_to({"type": "no.such.frame", "ref": "r1"})
    await communicator.send_json_to(
        {"type": "message.send", "ref": "r2", "conversation": 999999, "body": "안녕하세요"}
    )
    unknown = await communicator.receive_json_from(timeout=5)
    missing = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect(timeout=5)

    assert unknown == {
        "type": "error",
        "ref": "r1",
        "code": "unknown_type",
        "detail": "알 수 없는 프레임 종류 'no.such.frame'입니다.",
    }
    assert missing["code"] == "conversation_not_found"
    assert missing["detail"] == "대화 999999이(가) 없거나 참가하고 있지 않습니다."


def test_languages_are_english_korean_and_traditional_chinese():
    assert [code for code, _ in settings.LANGUAGES] == ["en", "ko", "zh-hant"]


@pytest.fixture
def admin_client(make_person):
    from django.test import Client

    root = make_person("root", is_staff=True, is_superuser=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="ko")
    client.force_login(root)
    return client


def test_an_administrator_sets_the_default_in_the_admin(admin_client):
    form = {"default_language": "zh-hant", "default_time_zone": "Asia/Taipei"}

    added = admin_client.post("/admin/directory/organisationsettings/add/", form)
    refused = admin_client.post(
        "/admin/directory/organisationsettings/1/change/",
        {"default_language": "ko", "default_time_zone": "Asia/Nowhere"},
    )

    assert added.status_code == 302
    assert organisation_defaults().language == "zh-hant"
    assert refused.status_code == 200
    assert "IANA 표준 시간대가 아닙니다" in refused.content.decode()  # the admin speaks Korean
    assert OrganisationSettings.objects.get(pk=1).default_time_zone == "Asia/Taipei"
    assert language_choose(accept_language="fr") == "zh-hant"
    # One row only: no second one can be added.
    assert admin_client.get("/admin/directory/organisationsettings/add/").status_code == 403
