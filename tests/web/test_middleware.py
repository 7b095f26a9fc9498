"""The Content-Security-Policy header of the web pages (no browser needed)."""

import pytest

from web.middleware import content_security_policy


def test_content_security_policy_allows_this_site_only():
    policy = dict(
        directive.split(" ", 1) for directive in content_security_policy("chat.example").split("; ")
    )

    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self' ws://chat.example wss://chat.example"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in content_security_policy("chat.example")


@pytest.mark.parametrize("path", ["/login/", "/presence-element/"])
def test_pages_carry_the_policy(client, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == content_security_policy("testserver")


def test_the_signed_in_client_carries_the_policy(client, alice):
    client.force_login(alice)

    response = client.get("/")

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == content_security_policy("testserver")
    assert b"<script>" not in response.content
    assert b"style=" not in response.content


def test_django_admin_and_the_api_are_left_alone(client, alice):
    admin_page = client.get("/admin/login/")
    client.force_login(alice)
    api = client.get("/api/v1/me/")

    assert admin_page.status_code == 200
    assert admin_page["Content-Type"].startswith("text/html")
    assert "Content-Security-Policy" not in admin_page
    assert api.status_code == 200
    assert "Content-Security-Policy" not in api
