"""A person adds a directory group to their contacts in the browser and sees its members."""

import pytest
from django.contrib.auth.models import Group

from directory.models import DirectoryGroup
from tests.web.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_adding_a_directory_group_lists_its_members_with_presence(browsing, alice, bob):
    research = Group.objects.create(name="research")
    DirectoryGroup.objects.create(group=research, dn="cn=research,ou=groups,dc=bank")
    research.user_set.add(alice, bob)
    page = browsing.client(alice)

    page.fill("#distribution-name", "research")
    page.click("#distribution-form button[type=submit]")

    member = page.locator("#distribution-groups li[data-username='bob'] parley-presence")
    member.wait_for()
    assert page.locator("#distribution-groups h3").inner_text().startswith("research")
    assert page.locator("#distribution-groups li").count() == 1  # not myself
    assert "Bob Chen" in member.get_attribute("aria-label")
    page.fill("#distribution-name", "nonexistent")
    page.click("#distribution-form button[type=submit]")
    page.get_by_text("No directory group named nonexistent.").wait_for()
    screenshot(page, "distribution-group")
