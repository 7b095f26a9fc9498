"""A conversation an information barrier closed shows why instead of the composer."""

import pytest
from django.contrib.auth.models import Group

from chat import services as chat
from chat.services import barriers
from tests.web.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_closed_conversation_shows_the_barrier_instead_of_the_composer(browsing, alice, bob):
    research, trading = Group.objects.create(name="research"), Group.objects.create(name="trading")
    research.user_set.add(alice)
    chat.category_create(
        name="Research wall",
        allowed_groups=[research],
        denied_groups=[trading],
        forbids_direct_im=True,
    )
    direct, _ = chat.conversation_create(creator=alice, usernames=["bob"])
    trading.user_set.add(bob)  # the directory moves bob to trading
    assert barriers.barriers_enforce(person_ids=[bob.pk]) == 1

    page = browsing.client(alice)
    page.locator(f"[data-conversation='{direct.pk}']").click()

    note = page.locator("#closed-note")
    note.wait_for()
    assert "information barrier 'Research wall'" in note.inner_text()
    assert page.locator("#composer").is_hidden()
    screenshot(page, "conversation-closed-by-barrier")
