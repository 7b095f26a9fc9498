"""A small OpenID Connect provider for the single sign-on tests.

Authorization code flow with PKCE (S256), RS256 ID tokens signed with joserfc, a JWKS, a
userinfo endpoint and a sign-in form: what a relying party (mozilla-django-oidc) sees of a
real provider. Served by http.server on a loopback port in a thread of the test process.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "parley"
CLIENT_SECRET = "parley-client-secret"
LOGIN_FORM = """<!doctype html><title>Test identity provider</title>
<h1>Test identity provider</h1>
<form method="post" action="/authorize">
{hidden}
<label>Username <input name="username" id="idp-username"></label>
<label>Password <input name="password" id="idp-password" type="password"></label>
<button type="submit" id="idp-sign-in">Sign in</button>
</form>"""


@dataclass
class OidcProvider:
    """The provider's state: its people, key, and the codes and tokens it issued."""

    users: dict[str, dict] = field(default_factory=dict)  # username -> password and claims
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"}
        )
    )
    codes: dict[str, dict] = field(default_factory=dict)
    access_tokens: dict[str, dict] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def settings_env(self) -> dict[str, str]:
        """The environment Parley needs to use this provider (README)."""
        return {
            "PARLEY_OIDC_CLIENT_ID": CLIENT_ID,
            "PARLEY_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "PARLEY_OIDC_AUTHORIZATION_ENDPOINT": f"{self.url}/authorize",
            "PARLEY_OIDC_TOKEN_ENDPOINT": f"{self.url}/token",
            "PARLEY_OIDC_USERINFO_ENDPOINT": f"{self.url}/userinfo",
            "PARLEY_OIDC_JWKS_ENDPOINT": f"{self.url}/jwks",
        }

    def add_user(self, username: str, password: str, **claims) -> None:
        self.users[username] = {"password": password, "claims": claims}

    def start(self) -> None:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                return

            def do_GET(self):
                provider.handle(self, "GET")

            def do_POST(self):
                provider.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # -- endpoints ---------------------------------------------------------------------------

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        url = urlparse(request.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        form = {}
        if method == "POST":
            length = int(request.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(request.rfile.read(length).decode()).items()}
        route = (method, url.path)
        if route == ("GET", "/authorize"):
            self._authorize_form(request, query)
        elif route == ("POST", "/authorize"):
            self._authorize(request, form)
        elif route == ("POST", "/token"):
            self._token(request, form)
        elif route == ("GET", "/userinfo"):
            self._userinfo(request)
        elif route == ("GET", "/jwks"):
            self._json(request, 200, {"keys": [self.key.as_dict(private=False)]})
        else:
            self._json(request, 404, {"error": "not_found"})

    def _authorize_form(self, request, query: dict) -> None:
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            self._json(request, 400, {"error": "invalid_request"})
            return
        kept = ("client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope")
        hidden = "\n".join(
            f'<input type="hidden" name="{name}" value="{html.escape(query.get(name, ""))}">'
            for name in kept
        )
        body = LOGIN_FORM.format(hidden=hidden).encode()
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def _authorize(self, request, form: dict) -> None:
        user = self.users.get(form.get("username", ""))
        if user is None or user["password"] != form.get("password"):
            self._json(request, 401, {"error": "access_denied"})
            return
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**form, "sub": form["username"]}
        target = f"{form['redirect_uri']}?{urlencode({'code': code, 'state': form['state']})}"
        request.send_response(302)
        request.send_header("Location", target)
        request.end_headers()

    def _token(self, request, form: dict) -> None:
        grant = self.codes.pop(form.get("code", ""), None)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        ).rstrip(b"=")
        if (
            grant is None
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("redirect_uri") != grant["redirect_uri"]
            or challenge.decode() != grant["code_challenge"]
        ):
            self._json(request, 400, {"error": "invalid_grant"})
            return
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": grant["sub"],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
        }
        id_token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        access_token = secrets.token_urlsafe(24)
        self.access_tokens[access_token] = {
            "sub": grant["sub"],
            **self.users[grant["sub"]]["claims"],
        }
        self._json(
            request,
            200,
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            },
        )

    def _userinfo(self, request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        claims = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if claims is None:
            self._json(request, 401, {"error": "invalid_token"})
            return
        self._json(request, 200, claims)

    @staticmethod
    def _json(request, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
