"""Sign-in, the Content-Security-Policy, and the client on a phone-sized screen."""

import pytest
from django.contrib.auth.hashers import make_password

from tests.web.conftest import PHONE, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_sign_in_with_the_form_opens_the_client(browsing, make_person, settings):
    # The server checks passwords with the default (slow) hasher; the tests' fast one is unknown
    # to it, so this person's password is hashed the real way.
    person = make_person("alice", display_name="Alice Martin")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    person.password = make_password("a long enough password")
    person.save(update_fields=["password"])
    page = browsing.page(browsing.context(), "/")

    page.wait_for_url("**/login/?next=/")
    screenshot(page, "sign-in")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_selector("body[data-connection='open']")
    me = page.locator("#presence-button parley-presence")
    assert me.get_attribute("aria-label") == "Alice Martin — Available"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login/")


def test_sign_in_refuses_a_wrong_password(browsing, make_person):
    make_person("alice")
    page = browsing.page(browsing.context(), "/login/")

    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()

    assert page.get_by_role("alert").inner_text() == (
        "Your username and password didn't match. Try again."
    )
    assert page.url.endswith("/login/")


def test_pages_carry_a_content_security_policy_they_do_not_break(browsing, alice):
    login = browsing.page(browsing.context(), "/login/")
    client = browsing.client(alice)
    embed = browsing.page(client.context, "/presence-element/?user=alice")
    embed.locator("main parley-presence[data-availability='available']").first.wait_for()
    pages = (login, client, embed)

    for page in pages:
        response = page.request.get(page.url)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        host = browsing.server.http_url.removeprefix("http://")
        assert f"connect-src 'self' ws://{host} wss://{host}" in policy
    # Open the dialogs and a conversation pane too: nothing in them needs inline code.
    client.locator("#presence-button").click()
    client.get_by_role("dialog").wait_for()
    client.keyboard.press("Escape")
    violations = [
        line
        for page in pages
        for line in page.console_lines
        if "Content Security Policy" in line or "pageerror" in line
    ]
    assert violations == []
    assert client.locator("script:not([src])").count() == 0
    assert client.locator("[style]").count() == 0


def test_the_client_fits_a_360_px_screen(browsing, alice, bob, api_client_for):
    api_client_for(alice).post("/api/v1/conversations/", {"participants": ["bob"]}, format="json")
    page = browsing.client(alice, viewport=PHONE)

    page.get_by_role("button", name="Bob").first.click()
    page.locator("#composer-text").fill("A rather long line " * 12 + "x" * 80)
    page.keyboard.press("Enter")
    page.locator("#message-list .message").first.wait_for()

    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 360
    screenshot(page, "phone-conversation")
    assert page.get_by_role("button", name="Back", exact=True).is_visible()
    page.get_by_role("button", name="Back", exact=True).click()
    assert page.locator("#conversation-list").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "phone-lists")


def focused(page) -> str:
    """Describe the focused element: its id, or its text."""
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.id ? '#' + e.id : (e.innerText || e.getAttribute('aria-label') || e.tagName)"
        ".trim(); }"
    )


def test_the_client_works_from_the_keyboard(browsing, alice, bob, api_client_for):
    api_client_for(alice).post("/api/v1/conversations/", {"participants": ["bob"]}, format="json")
    page = browsing.client(alice)

    order = []
    for _ in range(12):  # skip link, brand, nav, presence, sign out, then the conversations
        page.keyboard.press("Tab")
        order.append(focused(page))
        if order[-1] == "Bob Chen":
            break
    assert order[-1] == "Bob Chen", order
    assert order[0] == "Skip to content"
    page.keyboard.press("Enter")
    assert focused(page) == "#composer-text"
    page.keyboard.type("Sent with the keyboard")
    page.keyboard.press("Enter")
    page.locator("#message-list .message-body").filter(has_text="Sent with the keyboard").wait_for()

    page.get_by_role("button", name="Add person").focus()
    page.keyboard.press("Enter")
    assert page.get_by_role("dialog", name="Add a person").is_visible()
    assert focused(page) == "#add-person-username"
    page.keyboard.press("Escape")
    assert page.get_by_role("dialog", name="Add a person").is_hidden()
    assert focused(page) == "#add-person-button"  # focus goes back to what opened it
