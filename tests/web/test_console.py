"""The compliance console in a real browser: refused to non-officers, cases and holds, an EML
export watched to 100% and downloaded, the audit log of the officer's own actions."""

import re
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from chat import services as chat
from tests.web.conftest import PHONE, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def officer(make_person):
    person = make_person("olga", display_name="Olga Officer")
    group, _ = Group.objects.get_or_create(name="Compliance")
    person.groups.add(group)
    return person


@pytest.fixture
def chatter(alice, bob):
    conversation, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    for body in ("Project Blue price is 101", "Keep Project Blue quiet", "Lunch?"):
        chat.message_post(sender=alice, conversation_id=conversation.pk, body=body, client_id="")
    return conversation


def test_a_non_officer_gets_403_and_no_console_link(browsing, alice):
    page = browsing.page(browsing.context(alice), "/rooms/")
    page.get_by_role("link", name="Rooms").wait_for()
    assert page.get_by_role("link", name="Compliance").count() == 0
    for path in (
        "/console/",
        "/console/cases/",
        "/console/cases/1/",
        "/console/exports/",
        "/console/audit/",
        "/console/health/",
        "/console/presence/",
    ):
        response = page.goto(path)
        assert response.status == 403
        page.get_by_role("heading", name="Compliance officers only").wait_for()


def test_an_officer_holds_exports_and_releases(browsing, officer, chatter):
    page = browsing.page(browsing.context(officer), "/rooms/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Compliance").click()
    page.get_by_role("heading", name="Search the archive").wait_for()
    page.get_by_role("link", name="Cases").click()
    page.wait_for_selector("body[data-ready]")

    page.get_by_label("Case name").fill("Project Blue leak")
    page.get_by_label("Description").fill("Who talked about Project Blue?")
    page.get_by_role("button", name="Open case").click()
    page.get_by_role("heading", name="Project Blue leak").wait_for()
    page.wait_for_selector("body[data-ready]")

    page.get_by_label("Custodians").fill("alice")
    page.get_by_role("button", name="Place hold").click()
    hold = page.locator("article.hold").first
    hold.locator(".hold-count").filter(has_text="records held").wait_for()
    held = int(hold.locator(".hold-count").inner_text().split()[0])
    assert held >= 3
    screenshot(page, "console-case")

    page.get_by_label("Format").select_option("eml")
    page.get_by_role("button", name="Start export").click()
    page.wait_for_url("**/console/exports/?watch=*")
    job = page.locator("[data-export]").first
    job.locator(".export-progress").filter(has_text="100%").wait_for(timeout=30_000)
    assert job.get_attribute("data-status") == "completed"
    assert "SHA-256" in job.locator(".manifest").inner_text()
    screenshot(page, "console-exports")
    with page.expect_download() as download_info:
        job.get_by_role("link", name="Download export").click()
    with zipfile.ZipFile(Path(download_info.value.path())) as archive:
        names = archive.namelist()
    assert "manifest.json" in names
    assert any(name.endswith(".eml") for name in names)

    page.go_back()
    page.get_by_role("link", name="Cases").click()
    page.get_by_role("link", name="Project Blue leak").click()
    page.wait_for_selector("body[data-ready]")
    hold = page.locator("article.hold").first
    hold.get_by_role("button", name="Release").click()
    hold.get_by_text("Give the reason for releasing this hold.").wait_for()
    hold.get_by_label("Reason for releasing hold").fill("Matter settled")
    hold.get_by_role("button", name="Release").click()
    page.locator("article.hold .tag").filter(has_text="released").wait_for()
    assert "Matter settled" in page.locator("article.hold").first.inner_text()
    page.get_by_role("button", name="Close case").click()
    page.get_by_text("Case closed.").wait_for()

    page.get_by_role("link", name="Audit log").click()
    page.wait_for_selector("body[data-ready]")
    page.locator("#audit-rows tr").first.wait_for()
    actions = page.locator("#audit-rows td:nth-child(4)").all_inner_texts()
    for action in ("Case opened", "Hold placed", "Hold released", "Export started"):
        assert action in actions
    page.get_by_label("Action").select_option("hold.release")
    page.get_by_role("button", name="Show").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#audit-rows tr')].every("
        "r => r.dataset.action === 'hold.release')"
    )
    assert page.locator("#audit-rows tr").count() == 1
    assert page.locator("#audit-rows tr td:nth-child(3)").inner_text() == "olga"
    screenshot(page, "console-audit")


def test_archive_health_verifies(browsing, officer, chatter):
    page = browsing.page(browsing.context(officer), "/console/health/")
    page.wait_for_selector("body[data-ready]")
    page.get_by_role("button", name="Verify now").click()
    page.get_by_text("Intact: every chain and the audit trail verify.").wait_for()
    screenshot(page, "console-health")


def test_console_pages_fit_a_phone(browsing, officer):
    context = browsing.context(officer, viewport=PHONE)
    for path in (
        "/console/",
        "/console/cases/",
        "/console/exports/",
        "/console/audit/",
        "/console/health/",
        "/console/presence/",
    ):
        page = browsing.page(context, path)
        page.locator(".console-main h1").wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], path
        page.close()


def test_highlights_are_built_as_text_and_marks(browsing, officer):
    page = browsing.page(browsing.context(officer), "/console/")
    page.wait_for_selector("body[data-ready]")
    result = page.evaluate(
        """async () => {
          const { highlightNodes } = await import("/static/js/console/highlight.js");
          const p = document.createElement("p");
          p.append(...highlightNodes(
            "&lt;img src=x onerror=alert(1)&gt; <mark>Blue</mark> &amp; <b>bold</b> &#39;q&#39;",
            "unused"));
          return { marks: [...p.querySelectorAll("mark")].map(m => m.textContent),
                   elements: p.querySelectorAll("*").length, text: p.textContent };
        }"""
    )
    assert result == {
        "marks": ["Blue"],
        "elements": 1,
        "text": "<img src=x onerror=alert(1)> Blue & <b>bold</b> 'q'",
    }
    assert page.dialogs == []


def test_presence_log_lookup(browsing, officer, alice):
    page = browsing.page(browsing.context(officer), "/console/presence/")
    page.wait_for_selector("body[data-ready]")
    page.get_by_label("Person").fill("alice")
    page.get_by_role("button", name="Look up").click()
    page.locator("#presence-summary").filter(has_text="alice:").wait_for()
    page.get_by_label("Person").fill("nobody-here")
    page.get_by_role("button", name="Look up").click()
    page.get_by_role("alert").filter(has_text="nobody-here").wait_for()


def test_an_officer_searches_opens_context_and_exports_the_results(browsing, officer, alice, bob):
    from archiving.search import indexing

    conversation, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    posted = []
    for body in ("Project Blue price is 101", "<b>Project</b> Blue & co", "Lunch?", "oops Blue"):
        message, *_ = chat.message_post(
            sender=alice, conversation_id=conversation.pk, body=body, client_id=""
        )
        posted.append(message)
    chat.message_edit(editor=alice, message_id=posted[0].pk, body="Project Blue price is 102")
    chat.message_delete(actor=alice, message_id=posted[3].pk)
    indexing.search_index_pending()

    page = browsing.page(browsing.context(officer), "/console/")
    page.wait_for_selector("body[data-ready]")
    page.get_by_label("Query", exact=True).fill("blue -lunch")
    page.get_by_label("People (any part)").fill("bob")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#search-status").filter(has_text="records").wait_for()
    hits = page.locator("#hit-list .hit")
    assert hits.count() >= 2
    texts = hits.locator(".hit-text").all_inner_texts()
    assert "<b>Project</b> Blue & co" in texts
    assert hits.locator(".hit-text b").count() == 0
    assert "Blue" in hits.locator("mark").all_inner_texts()
    assert page.locator("#facets").get_by_text("alice").count() >= 1
    screenshot(page, "console-search")

    original = page.locator("#hit-list .hit").filter(has_text="price is 101")
    original.get_by_role("button", name=re.compile("Open the context")).click()
    context = page.locator("#context-list")
    context.locator("li.is-hit").wait_for()
    events = [
        context.locator("li").nth(i).get_attribute("data-event")
        for i in range(context.locator("li").count())
    ]
    assert "message.edited" in events
    assert "message.deleted" in events
    assert context.locator("li[data-event='message.edited'] .record-event").inner_text() == "Edited"
    screenshot(page, "console-search-context")

    page.get_by_label("Export format").select_option("eml")
    page.get_by_role("button", name="Export these results").click()
    page.wait_for_url("**/console/exports/?watch=*")
    job = page.locator("[data-export]").first
    job.locator(".export-progress").filter(has_text="100%").wait_for(timeout=30_000)
    assert "query" in job.inner_text()


def test_an_officer_picks_people_and_conversations_by_name_and_sees_them_named(
    browsing, officer, chatter
):
    from archiving.holds import case_create

    case = case_create(actor=officer, name="Named things")
    page = browsing.page(browsing.context(officer), f"/console/cases/{case.pk}/")
    page.wait_for_selector("body[data-ready]")

    page.get_by_label("Custodians").press_sequentially("Mart")
    page.get_by_role("option", name="Alice Martin (alice)").click()
    page.get_by_label("Rooms / conversations").press_sequentially("Bob")
    page.get_by_role("option", name="Direct: Alice Martin and Bob Chen").click()
    page.get_by_role("button", name="Place hold").click()

    hold = page.locator("article.hold").first
    hold.locator(".hold-count").filter(has_text="records held").wait_for()
    text = hold.inner_text()
    assert "Alice Martin" in text
    assert "Direct: Alice Martin and Bob Chen" in text
    assert str(chatter.pk) not in text.split("Conversations")[1].split("\n")[1]

    page.goto("/console/")
    page.wait_for_selector("body[data-ready]")
    page.get_by_label("Query", exact=True).fill("Blue")
    page.get_by_role("button", name="Search").click()
    page.locator(".hit").first.wait_for()
    assert page.locator(".hit .conversation-name").first.inner_text() == (
        "Direct: Alice Martin and Bob Chen"
    )
    assert "Direct: Alice Martin and Bob Chen" in page.locator("#facets").inner_text()


def test_a_failed_search_clears_the_previous_hits_and_says_why(browsing, officer, alice, bob):
    from archiving.search import indexing

    conversation, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    chat.message_post(sender=alice, conversation_id=conversation.pk, body="Project Blue")
    indexing.search_index_pending()
    page = browsing.page(browsing.context(officer), "/console/")
    page.wait_for_selector("body[data-ready]")
    query = page.get_by_label("Query", exact=True)
    query.fill("blue")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("#hit-list .hit").first.wait_for()

    query.fill('"blue')
    page.get_by_role("button", name="Search", exact=True).click()

    error = page.get_by_role("alert").filter(has_text="The search failed")
    error.wait_for()
    assert "never closed" in error.inner_text()
    assert page.locator("#hit-list .hit").count() == 0
    assert page.locator("#search-status").inner_text() == ""
