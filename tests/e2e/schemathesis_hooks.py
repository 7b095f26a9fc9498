"""Schemathesis hooks for the API schema run (tests/e2e/test_api_schema.py).

Loaded by the `st` process through SCHEMATHESIS_HOOKS; the test passes spare bearer tokens of
the same person in PARLEY_ST_SPARE_TOKENS.
"""

import os

import schemathesis

TOKEN_PATH = "/api/v1/auth/token/"
_spare_tokens = [t for t in os.environ.get("PARLEY_ST_SPARE_TOKENS", "").split(",") if t]


@schemathesis.hook
def before_call(context, case, kwargs):
    # DELETE /auth/token/ revokes the token it is called with: give it a token of its own, or
    # every later case of the run would be answered 401 and test nothing.
    if case.method.upper() != "DELETE" or case.path != TOKEN_PATH or not _spare_tokens:
        return
    headers = kwargs.get("headers")
    sent = (headers or {}).get("Authorization") or (case.headers or {}).get("Authorization")
    if not (sent or "").startswith("Bearer "):
        return  # a case without credentials (the 401 checks): leave it as generated
    fresh = f"Bearer {_spare_tokens.pop()}"
    case.headers = {**(case.headers or {}), "Authorization": fresh}
    if isinstance(headers, dict) and "Authorization" in headers:
        headers["Authorization"] = fresh
