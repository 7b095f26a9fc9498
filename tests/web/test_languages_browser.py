"""The pages in Korean and Traditional Chinese in a real browser (Noto CJK fonts from Debian's
fonts-noto-cjk): a browser asking for the language gets it everywhere, dates and numbers in
its locale; screenshots of the chat, rooms and console pages in each language."""

import pytest
from django.contrib.auth.models import Group

from chat import services as chat
from tests.web.conftest import api_call, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

LANGUAGES = {
    "ko": {
        "locale": "ko-KR",
        "lang": "ko",
        "sign_out": "로그아웃",
        "rooms": "대화방",
        "search_heading": "보관소 검색",
        "records": "레코드",
        "cases_heading": "사건",
        "exports_heading": "내보내기",
        "audit_heading": "감사 로그",
        "audit_search": "보관소 검색",
    },
    "zh-hant": {
        "locale": "zh-TW",
        "lang": "zh-hant",
        "sign_out": "登出",
        "rooms": "聊天室",
        "search_heading": "搜尋封存",
        "records": "筆記錄",
        "cases_heading": "案例",
        "exports_heading": "匯出",
        "audit_heading": "稽核記錄",
        "audit_search": "封存搜尋",
    },
}


@pytest.fixture
def officer(make_person):
    person = make_person("olga", display_name="Olga Officer")
    person.groups.add(Group.objects.get_or_create(name="Compliance")[0])
    return person


@pytest.fixture
def korean_chat(browsing, alice, bob):
    """A conversation in Korean and Chinese, posted through the server (which indexes it)."""
    conversation, _ = chat.conversation_create(creator=alice, usernames=["bob"], title="")
    for body in (
        "내일 회의록을 보내 드리겠습니다",
        "회의 록은 금요일에 공유합니다",
        "明天的會議紀要",
    ):
        api_call(
            browsing.server,
            alice,
            "POST",
            f"conversations/{conversation.pk}/messages/",
            {"body": body},
        )
    return conversation


def _no_script_errors(page) -> None:
    errors = [line for line in page.console_lines if "pageerror" in line or "gettext" in line]
    assert errors == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_console_speaks_the_browsers_language(browsing, officer, korean_chat, language):
    words = LANGUAGES[language]
    context = browsing.context(officer, locale=words["locale"])
    page = browsing.page(context, "/console/")
    page.wait_for_selector("body[data-ready]")

    assert page.locator("html").get_attribute("lang") == words["lang"]
    page.get_by_role("heading", name=words["search_heading"]).wait_for()
    page.get_by_role("button", name=words["sign_out"]).wait_for()
    page.locator("#search-query").fill("회의록")
    page.locator("#search-form button[type=submit]").click()
    page.locator("#search-status").filter(has_text=words["records"]).wait_for()
    texts = page.locator("#hit-list .hit-text").all_inner_texts()
    assert sorted(texts) == sorted(
        ["내일 회의록을 보내 드리겠습니다", "회의 록은 금요일에 공유합니다"]
    )
    # A date and time in the reader's language: 2026. 12. 2. 오후 4:45 / 2026年12月2日 下午4:45.
    when = page.locator("#hit-list time").first.inner_text()
    assert any(word in when for word in (("오전", "오후") if language == "ko" else ("年",)))
    screenshot(page, f"console-search-{language}")

    page.goto("/console/cases/")
    page.wait_for_selector("body[data-ready]")
    page.get_by_role("heading", name=words["cases_heading"], exact=True).wait_for()
    page.locator("#case-name").fill("회의록 유출 / 會議紀要外洩")
    page.locator("#case-form button[type=submit]").click()
    page.wait_for_url("**/console/cases/*/")
    page.wait_for_selector("#case-facts:not(:empty)")
    screenshot(page, f"console-case-{language}")

    page.goto("/console/audit/")
    page.wait_for_selector("body[data-ready]")
    page.get_by_role("heading", name=words["audit_heading"]).wait_for()
    page.locator("#audit-form button[type=submit]").click()
    page.locator("#audit-rows tr").first.wait_for()
    actions = page.locator("#audit-rows td:nth-child(4)").all_inner_texts()
    assert words["audit_search"] in actions
    screenshot(page, f"console-audit-{language}")

    page.goto("/console/exports/")
    page.get_by_role("heading", name=words["exports_heading"], exact=True).wait_for()
    _no_script_errors(page)


CHAT_WORDS = {
    "ko": {
        "send": "보내기",
        "me": "Alice Martin — 대화 가능",
        "rooms": "대화방 만들기",
        "count": "대화방 1개",
    },
    "zh-hant": {
        "send": "傳送",
        "me": "Alice Martin — 有空",
        "rooms": "建立聊天室",
        "count": "1 個聊天室",
    },
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_chat_and_rooms_pages_speak_the_browsers_language(
    browsing, alice, bob, korean_chat, language
):
    from chat.services import rooms

    words = {**LANGUAGES[language], **CHAT_WORDS[language]}
    rooms.room_create(creator=alice, title="트레이딩 데스크 / 交易台", topic="회의록 · 會議紀要")
    context = browsing.context(alice, locale=words["locale"])
    page = browsing.page(context, f"/c/{korean_chat.pk}/")
    page.wait_for_selector("body[data-connection='open']")

    assert page.locator("html").get_attribute("lang") == words["lang"]
    page.locator("#message-list").get_by_text("내일 회의록을 보내 드리겠습니다").wait_for()
    page.get_by_role("button", name=words["send"], exact=True).wait_for()
    me = page.locator("#presence-button parley-presence")
    page.wait_for_function(
        "([element, label]) => element.getAttribute('aria-label') === label",
        arg=[me.element_handle(), words["me"]],
    )
    screenshot(page, f"chat-{language}")

    page.goto("/rooms/")
    page.wait_for_selector("body[data-ready]")
    page.get_by_role("button", name=words["rooms"]).first.wait_for()
    page.locator("#room-directory-status").filter(has_text=words["count"]).wait_for()
    screenshot(page, f"rooms-{language}")
    _no_script_errors(page)
