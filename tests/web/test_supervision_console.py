"""Supervision review in a real browser: only the Supervision group sees it; a reviewer creates
a policy, finds a supervised person's message in the queue with the lexicon words marked, reads
it in its conversation, claims it and escalates it into a case with a hold."""

import pytest
from django.contrib.auth.models import Group

from archiving.models import AuditEntry, LegalHold
from chat import services as chat
from supervision.models import ReviewItem
from tests.web.conftest import PHONE, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def reviewer(make_person):
    person = make_person("sam", display_name="Sam Reviewer")
    person.groups.add(Group.objects.get_or_create(name="Supervision")[0])
    return person


@pytest.fixture
def officer(make_person):
    person = make_person("olga", display_name="Olga Officer")
    person.groups.add(Group.objects.get_or_create(name="Compliance")[0])
    return person


def test_people_outside_the_supervision_group_see_no_link_and_get_403(browsing, alice, officer):
    for person in (alice, officer):
        page = browsing.page(browsing.context(person), "/rooms/")
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Rooms").wait_for()
        assert nav.get_by_role("link", name="Supervision").count() == 0
        for path in ("/console/supervision/", "/console/supervision/policies/"):
            response = page.goto(path)
            assert response.status == 403
            page.get_by_role("heading", name="Supervision reviewers only").wait_for()
    assert AuditEntry.objects.filter(action="access.refused").count() == 4


def test_a_reviewer_creates_a_policy_reviews_an_item_and_escalates_it(
    browsing, reviewer, alice, bob
):
    page = browsing.page(browsing.context(reviewer), "/rooms/")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Compliance").count() == 0
    nav.get_by_role("link", name="Supervision").click()
    page.get_by_role("heading", name="Review queue").wait_for()
    page.wait_for_selector("body[data-ready]")
    page.get_by_text("No items to review here.").wait_for()

    page.get_by_role("link", name="Policies").click()
    page.wait_for_selector("body[data-ready]")
    page.get_by_label("Name", exact=True).fill("Trading desk")
    page.get_by_label("People (usernames, comma separated)").fill("alice")
    page.get_by_label("Lexicon (one entry a line)").fill('guarantee\n"inside info"')
    page.get_by_role("button", name="Create policy").click()
    page.get_by_text("Policy created.").wait_for()
    row = page.locator("#policy-rows tr", has_text="Trading desk")
    row.wait_for()
    assert "guarantee" in row.inner_text()
    assert "sam" in row.inner_text()
    screenshot(page, "supervision-policies")

    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    chat.message_post(sender=bob, conversation_id=conversation.pk, body="Can you commit?")
    chat.message_post(
        sender=alice, conversation_id=conversation.pk, body="I guarantee the <b>price</b>"
    )
    chat.message_post(sender=alice, conversation_id=conversation.pk, body="Lunch at noon")
    chat.message_post(sender=bob, conversation_id=conversation.pk, body="Deal")
    assert ReviewItem.objects.count() == 1

    page.get_by_role("link", name="Review queue").click()
    page.wait_for_selector("body[data-ready]")
    item = page.locator("#item-list li").first
    item.wait_for()
    assert item.locator("mark").all_inner_texts() == ["guarantee"]
    assert "I guarantee the <b>price</b>" in item.inner_text()  # shown as text, not markup
    screenshot(page, "supervision-queue")

    item.get_by_role("button").click()
    page.locator("#item-context li").first.wait_for()
    context = page.locator("#item-context li").all_inner_texts()
    assert [line for line in context if "Can you commit?" in line or "Deal" in line]
    assert "I guarantee" in page.locator("#item-context li.is-hit").inner_text()
    page.get_by_role("button", name="Claim").click()
    page.locator("#item-list").get_by_text("Open", exact=False).wait_for(state="detached")
    page.get_by_label("Decision", exact=True).select_option("escalated")
    page.get_by_label("Comment").fill("A price guarantee to a client.")
    page.get_by_label("Open a case with a legal hold on the sender and this conversation").check()
    page.get_by_role("button", name="Resolve").click()
    page.locator("#item-facts").get_by_text("Case opened").wait_for()
    screenshot(page, "supervision-item-escalated")

    resolved = ReviewItem.objects.get()
    assert (resolved.status, resolved.decision, resolved.reviewer) == (
        "resolved",
        "escalated",
        reviewer,
    )
    hold = LegalHold.objects.get()
    assert list(hold.custodians.values_list("username", flat=True)) == ["alice"]
    assert hold.conversation_ids == [conversation.pk]

    phone = browsing.page(browsing.context(reviewer, viewport=PHONE), "/console/supervision/")
    phone.wait_for_selector("body[data-ready]")
    phone.get_by_label("Status").select_option("resolved")
    phone.locator("#item-list li").first.wait_for()
    screenshot(phone, "supervision-queue-phone")
