"""Parley behind nginx with TLS, as deploy/nginx/parley.conf sets it up.

nginx (the Debian package) terminates TLS with a certificate the test makes, serves the
collected static files itself and passes REST and WebSocket traffic to two uvicorn processes
running the production settings (DJANGO_PRODUCTION=1: secure cookies, HTTPS redirects, trust in
X-Forwarded-Proto). Clients speak only https:// and wss:// to it and trust only that certificate.
"""

from __future__ import annotations

import grp
import http.client
import json
import os
import pwd
import re
import shutil
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from chat import services as chat
from chat.models import Message
from directory import services as directory
from tests.conftest import IN_CI, PASSWORD, free_port
from tests.e2e.conftest import (
    FRAME_TIMEOUT,
    ROOT,
    Process,
    _port_answers,
    _spawn,
    _wait_until,
    cluster_running,
)

pytestmark = pytest.mark.e2e

TEMPLATE = ROOT / "deploy" / "nginx" / "parley.conf"
HSTS = "max-age=31536000; includeSubDomains"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Site:
    https_port: int
    http_port: int
    tls: ssl.SSLContext
    static_root: Path

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def wss_url(self) -> str:
        return f"wss://127.0.0.1:{self.https_port}/ws/"

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: str = ""
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Send one HTTPS request (no redirects followed) and return status, headers, body."""
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=self.tls, timeout=FRAME_TIMEOUT
        )
        try:
            connection.request(method, path, body=body or None, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()


def _nginx_or_skip() -> None:
    if not os.path.exists(NGINX):
        message = "nginx is not installed (scripts/test.sh installs the Debian package)"
        if IN_CI:
            pytest.fail(f"{message}; CI requires it.")
        pytest.skip(message)


def _certificate_make(directory_: Path) -> tuple[Path, Path]:
    """Make a self-signed certificate for 127.0.0.1; return (certificate, key)."""
    certificate, key = directory_ / "site.crt", directory_ / "site.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


def _nginx_config_write(prefix: Path, *, site: dict[str, str], upstream_ports: list[int]) -> Path:
    """Render deploy/nginx/parley.conf and a main configuration that keeps nginx in prefix."""
    rendered = TEMPLATE.read_text()
    site = {
        **site,
        "UPSTREAM_SERVERS": " ".join(f"server 127.0.0.1:{port};" for port in upstream_ports),
    }
    for name, value in site.items():
        rendered = rendered.replace(f"@{name}@", value)
    assert not re.search(r"@[A-Z_]+@", rendered), "a placeholder of the template is not rendered"
    (prefix / "parley.conf").write_text(rendered)
    # The workers must read the static files in the test's private temporary folder: run them
    # as this user (nginx ignores the directive, with a notice, when not started as root).
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    main = prefix / "nginx.conf"
    main.write_text(
        f"""
user {user} {group};
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/parley.conf;
}}
"""
    )
    return main


@pytest.fixture(scope="module")
def site(django_db_setup, tmp_path_factory) -> Iterator[Site]:
    """nginx with TLS in front of two uvicorn processes on the production settings."""
    _nginx_or_skip()
    prefix = tmp_path_factory.mktemp("nginx")
    static_root = prefix / "static"
    production = {
        "DJANGO_PRODUCTION": "1",
        "DJANGO_SECRET_KEY": "tls-test-" + "k" * 50,
        # Production wants an Elasticsearch address; this test searches nothing.
        "ELASTICSEARCH_URL": "http://127.0.0.1:9",
        "PARLEY_ARCHIVE_SEARCH_BACKEND": "database",
        "PARLEY_STATIC_ROOT": str(static_root),
        # No Celery worker here: after-commit tasks run inside the server.
        "PARLEY_TASKS_EAGER": "1",
        "PARLEY_CHANNEL_PREFIX": f"parley-tls-{os.getpid()}",
    }
    with cluster_running(
        prefix, extra_env=production, with_worker=False, server_names=("tls-a", "tls-b")
    ) as cluster:
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=cluster.env,
            check=True,
            capture_output=True,
        )
        certificate, key = _certificate_make(prefix)
        https_port, http_port = free_port(), free_port()
        config = _nginx_config_write(
            prefix,
            site={
                "SERVER_NAME": "127.0.0.1",
                "HTTP_PORT": f"127.0.0.1:{http_port}",
                "HTTPS_PORT": f"127.0.0.1:{https_port}",
                "CERTIFICATE": str(certificate),
                "CERTIFICATE_KEY": str(key),
                "STATIC_ROOT": str(static_root),
            },
            upstream_ports=[server.port for server in cluster.servers],
        )
        argv = [NGINX, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(config)]
        checked = subprocess.run([*argv, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        popen, _ = _spawn("nginx", [*argv, "-g", "daemon off;"], cluster.env, prefix)
        nginx = Process(name="nginx", popen=popen, log_path=prefix / "error.log")
        try:
            _wait_until(nginx, lambda: _port_answers(https_port), f"answer on {https_port}")
            yield Site(
                https_port=https_port,
                http_port=http_port,
                tls=ssl.create_default_context(cafile=str(certificate)),
                static_root=static_root,
            )
        finally:
            nginx.stop()


def _wss(site: Site, **headers: str) -> ClientConnection:
    return connect(
        site.wss_url,
        ssl=site.tls,
        additional_headers=headers,
        proxy=None,
        open_timeout=FRAME_TIMEOUT,
        close_timeout=2,
    )


def _frame(ws: ClientConnection, frame_type: str, **fields) -> dict:
    """Return the first frame of a type with these fields (others are skipped)."""
    while True:
        frame = json.loads(ws.recv(timeout=FRAME_TIMEOUT))
        if frame["type"] == frame_type and all(frame.get(k) == v for k, v in fields.items()):
            return frame


def _cookies(headers: http.client.HTTPMessage) -> dict[str, str]:
    jar = SimpleCookie()
    for value in headers.get_all("Set-Cookie") or []:
        jar.load(value)
    return {name: morsel.value for name, morsel in jar.items()}


@pytest.mark.django_db(transaction=True)
def test_rest_call_over_https_reaches_django_as_secure_with_one_hsts_header(site, alice):
    _, token = directory.token_create(person=alice)

    status, headers, body = site.request(
        "GET", "/api/v1/me/", headers={"Authorization": f"Bearer {token}"}
    )

    # No redirect to https: Django trusts the proxy's X-Forwarded-Proto.
    assert status == 200, body
    assert json.loads(body)["username"] == "alice"
    assert headers.get_all("Strict-Transport-Security") == [HSTS]


def test_static_file_is_served_by_nginx_with_hsts(site):
    status, headers, body = site.request("GET", "/static/css/parley.css")

    assert status == 200
    assert body == (ROOT / "web" / "static" / "css" / "parley.css").read_bytes()
    # nginx's `expires 7d`; WhiteNoise in Django would have answered max-age=60.
    assert headers["Cache-Control"] == "max-age=604800"
    assert headers["Content-Type"] == "text/css"
    assert headers.get_all("Strict-Transport-Security") == [HSTS]


def test_plain_http_is_redirected_to_https(site):
    connection = http.client.HTTPConnection("127.0.0.1", site.http_port, timeout=FRAME_TIMEOUT)
    try:
        connection.request("GET", "/api/v1/me/")
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()

    assert response.status == 301
    assert response.headers["Location"] == "https://127.0.0.1/api/v1/me/"


@pytest.mark.django_db(transaction=True)
def test_websocket_message_round_trip_over_wss(site, alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    _, alice_token = directory.token_create(person=alice)
    _, bob_token = directory.token_create(person=bob)

    with (
        _wss(site, Authorization=f"Bearer {alice_token}") as alice_ws,
        _wss(site, Authorization=f"Bearer {bob_token}") as bob_ws,
    ):
        _frame(alice_ws, "hello")
        _frame(bob_ws, "hello")
        alice_ws.send(
            json.dumps(
                {
                    "type": "message.send",
                    "conversation": conversation.pk,
                    "body": "over wss",
                    "client_id": "tls-1",
                    "ref": "tls-1",
                }
            )
        )
        ack = _frame(alice_ws, "message.ack", ref="tls-1")
        new = _frame(bob_ws, "message.new")

    stored = Message.objects.get(conversation=conversation)
    assert ack["id"] == stored.pk
    assert (new["message"]["id"], new["message"]["body"]) == (stored.pk, "over wss")
    assert new["message"]["sender"]["username"] == "alice"


def _sign_in(site: Site, person) -> dict[str, str]:
    """Sign in through the login form over HTTPS and return the cookies."""
    status, headers, body = site.request("GET", "/login/")
    assert status == 200, body
    cookies = _cookies(headers)
    csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()

    status, headers, body = site.request(
        "POST",
        "/login/",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookies['csrftoken']}",
            "Origin": site.origin,
            "Referer": f"{site.origin}/login/",
        },
        body=urlencode(
            {"csrfmiddlewaretoken": csrf, "username": person.username, "password": PASSWORD}
        ),
    )
    # A 403 here would mean Django took the https Origin for a foreign site.
    assert status == 302, body
    return {**cookies, **_cookies(headers)}


@pytest.mark.django_db(transaction=True)
def test_session_sign_in_and_cookie_websocket_work_with_https_origins(site, alice, bob):
    conversation, _ = chat.conversation_direct_get_or_create(person=alice, other=bob)
    # The servers hash with PBKDF2; the test settings' fast MD5 hashes are unknown to them.
    alice.password = PBKDF2PasswordHasher().encode(PASSWORD, "tlstestsalt")
    alice.save(update_fields=["password"])

    cookies = _sign_in(site, alice)
    cookie_header = f"sessionid={cookies['sessionid']}; csrftoken={cookies['csrftoken']}"

    with _wss(site, Cookie=cookie_header, Origin=site.origin) as ws:
        hello = _frame(ws, "hello")
    assert [c["id"] for c in hello["conversations"]] == [conversation.pk]
    # Another site's page cannot ride on the cookie: the handshake is refused.
    with pytest.raises(InvalidStatus) as refused:
        _wss(site, Cookie=cookie_header, Origin="https://elsewhere.example")
    assert refused.value.response.status_code == 403
