"""The usage page in a real browser: charts drawn from the usage API for administrators and
compliance officers, a table by the chosen grouping, the CSV download; refused to others."""

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from archiving.models import ArchiveEvent
from archiving.services import capture
from directory.models import Department
from tests.web.conftest import PHONE, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def officer(make_person):
    person = make_person("olga", display_name="Olga Officer")
    group, _ = Group.objects.get_or_create(name="Compliance")
    person.groups.add(group)
    return person


def _at(days_ago: int, hour: int) -> datetime:
    day = timezone.now().astimezone(UTC).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _post(conversation_id, kind, actor, when, members, *, external=False):
    capture(
        conversation_id=conversation_id,
        conversation_kind=kind,
        is_external=external,
        participant_ids=[p.pk for p in members],
        event=ArchiveEvent.MESSAGE_POSTED,
        actor=actor,
        occurred_at=when,
        body="text that never reaches a usage row",
    )


def _room(conversation_id, title, creator, members, when):
    capture(
        conversation_id=conversation_id,
        conversation_kind="room",
        is_external=False,
        participant_ids=[p.pk for p in members],
        event=ArchiveEvent.CONVERSATION_CREATED,
        actor=creator,
        occurred_at=when,
        payload={"participants": [p.username for p in members], "title": title},
    )


@pytest.fixture
def activity(make_person, alice, bob, carol):
    """Three weeks of activity: two rooms, a direct conversation, an external one."""
    trading = Department.objects.create(name="Trading, EMEA")
    for person in (alice, bob):
        person.department = trading
        person.save(update_fields=["department"])
    zoe = make_person("zoe", display_name="Zoe Partner", is_external=True)
    _room(101, "Trading floor", alice, [alice, bob, carol], _at(20, 8))
    _room(102, "Research notes", carol, [carol, bob], _at(20, 8))
    for days_ago in range(20, 0, -1):
        for n in range(days_ago % 4 + 1):
            _post(101, "room", (alice, bob)[n % 2], _at(days_ago, 9 + n), [alice, bob, carol])
        if days_ago % 3 == 0:
            _post(102, "room", carol, _at(days_ago, 14), [carol, bob])
            _post(7, "direct", alice, _at(days_ago, 15), [alice, bob])
        if days_ago % 5 == 0:
            _post(8, "direct", zoe, _at(days_ago, 16), [carol, zoe], external=True)


def test_an_officer_reads_the_charts_table_and_csv(browsing, officer, activity):
    page = browsing.page(browsing.context(officer), "/console/")
    page.get_by_role("navigation", name="Compliance console").get_by_role(
        "link", name="Usage"
    ).click()
    page.wait_for_selector("body[data-shown]")

    # 30 days of bars; the rooms ranked busiest first, by name.
    assert page.locator("#chart-messages svg rect.series-bar").count() == 30
    assert page.locator("#chart-people svg circle.series-dot").count() == 30
    assert page.locator("#chart-external svg rect.series-bar").count() == 30
    rooms = page.locator("#chart-rooms svg text.rank-name").all_text_contents()
    assert rooms[0] == "Trading floor"
    assert "Research notes" in rooms
    summary = page.locator("#usage-summary").inner_text()
    assert summary.startswith("66 messages; up to 4 people active on one day.")
    assert "External share overall: 6.1%" in summary
    screenshot(page, "console-usage")

    page.get_by_label("Table by").select_option("department")
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("body[data-shown$='/department']")
    assert page.locator("#usage-key-heading").inner_text() == "Department"
    keys = page.locator("#usage-rows td.key").all_inner_texts()
    assert "Trading, EMEA" in keys
    assert "(no department)" in keys  # the external partner

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("parley-usage-department-")
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "key,conversations,messages,files,people,external_messages"
    assert any(line.startswith('"Trading, EMEA",') for line in lines[1:])


def test_an_administrator_sees_usage_only(browsing, make_person, activity):
    admin = make_person("ada", display_name="Ada Admin", is_staff=True)
    page = browsing.page(browsing.context(admin), "/rooms/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage").click()
    page.wait_for_selector("body[data-shown]")

    console_links = page.get_by_role("navigation", name="Compliance console").get_by_role("link")
    assert console_links.all_inner_texts() == ["Usage"]
    assert page.get_by_role("link", name="Compliance").count() == 0
    assert page.locator("#chart-rooms svg rect.series-bar").count() == 2
    screenshot(page, "console-usage-admin")


def test_an_employee_gets_403_and_no_usage_link(browsing, alice):
    page = browsing.page(browsing.context(alice), "/rooms/")
    page.get_by_role("link", name="Rooms").wait_for()
    assert page.get_by_role("link", name="Usage").count() == 0

    response = page.goto("/console/usage/")

    assert response.status == 403
    page.get_by_role("heading", name="Administrators and compliance officers only").wait_for()


def test_usage_page_fits_a_phone(browsing, officer, activity):
    page = browsing.page(browsing.context(officer, viewport=PHONE), "/console/usage/")
    page.wait_for_selector("body[data-shown]")

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    screenshot(page, "console-usage-phone")
