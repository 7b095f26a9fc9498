"""Offline IM and missed-IM e-mail in the browser client: a message to an offline person with
offline delivery off is shown as not sent, with why; the e-mail notice is switched in the
presence dialog."""

import pytest

from chat import services as chat
from chat.models import ImPolicy, Message, NoticePreference
from tests.web.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_message_to_an_offline_person_shows_not_sent_and_why(browsing, alice, bob):
    chat.conversation_create(creator=alice, usernames=["bob"])
    ImPolicy.objects.create(name="No offline IM", is_global=True, delivers_offline=False)
    page = browsing.client(alice)

    page.get_by_role("button", name="Bob Chen").first.click()
    page.locator("#composer-text").fill("Are you there?")
    page.keyboard.press("Enter")

    failed = page.locator("#pending-list .message--failed")
    failed.wait_for()
    status = failed.locator(".message-status").inner_text()
    assert status.startswith("Not sent: Bob Chen is offline")
    assert "not delivered" in status
    assert not Message.objects.exists()
    screenshot(page, "client-offline-not-sent")


def test_the_missed_im_email_is_switched_in_the_presence_dialog(browsing, alice):
    page = browsing.client(alice)

    page.locator("#presence-button").click()
    box = page.get_by_label("E-mail me about messages I miss while offline")
    box.wait_for()
    assert box.is_checked()
    box.uncheck()
    page.get_by_role("button", name="Save").click()
    page.get_by_role("dialog").wait_for(state="hidden")

    assert NoticePreference.objects.get(person=alice).is_missed_im_email_on is False
    page.locator("#presence-button").click()
    page.get_by_role("dialog").wait_for()
    assert not page.get_by_label("E-mail me about messages I miss while offline").is_checked()
    screenshot(page, "client-presence-dialog")
