"""Directory and single sign-on settings: off until configured, and a half configuration stops
start-up naming what is missing."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django; django.setup(); from django.conf import settings; "
    "print('directory-sync' in settings.CELERY_BEAT_SCHEDULE, settings.AUTHENTICATION_BACKENDS[-1])"
)


def _settings(**environment: str) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_LDAP_", "PARLEY_OIDC_"))
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", **environment)
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_directory_sync_is_scheduled_only_when_ldap_is_configured():
    off = _settings()
    on = _settings(
        PARLEY_LDAP_URL="ldap://dc.bank.test", PARLEY_LDAP_USER_BASE_DN="ou=people,dc=bank"
    )

    assert off.stdout == "False directory.backends.LdapBindBackend\n"
    assert on.stdout == "True directory.backends.LdapBindBackend\n"


def test_single_sign_on_is_on_with_every_endpoint_and_a_missing_one_stops_start_up():
    endpoints = {
        "PARLEY_OIDC_CLIENT_ID": "parley",
        "PARLEY_OIDC_CLIENT_SECRET": "secret",
        "PARLEY_OIDC_AUTHORIZATION_ENDPOINT": "https://idp.bank.test/authorize",
        "PARLEY_OIDC_TOKEN_ENDPOINT": "https://idp.bank.test/token",
        "PARLEY_OIDC_USERINFO_ENDPOINT": "https://idp.bank.test/userinfo",
        "PARLEY_OIDC_JWKS_ENDPOINT": "https://idp.bank.test/jwks",
    }
    on = _settings(**endpoints)
    endpoints.pop("PARLEY_OIDC_JWKS_ENDPOINT")
    half = _settings(**endpoints)
    ldap_half = _settings(PARLEY_LDAP_URL="ldap://dc.bank.test")

    assert on.stdout == "False directory.backends.OidcBackend\n"
    assert half.returncode != 0
    assert "PARLEY_OIDC_JWKS_ENDPOINT" in half.stderr
    assert ldap_half.returncode != 0
    assert "PARLEY_LDAP_USER_BASE_DN" in ldap_half.stderr
