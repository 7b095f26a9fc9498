#!/usr/bin/env bash
# Install and run the whole test suite. Uses the PostgreSQL and Redis on 127.0.0.1 when they
# answer; in CI (CI=true) their absence is a failure, elsewhere the suite falls back to SQLite
# and skips the tests that need Redis. Installs Debian's Chromium for the browser tests when
# it is missing (as root). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh requirements-dev.txt

answers() {  # host port
  .venv/bin/python - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
PY
}

pg_host=${PARLEY_TEST_PG_HOST:-127.0.0.1}
redis_host=${PARLEY_TEST_REDIS_HOST:-127.0.0.1}
if answers "$pg_host" 5432; then
  pg_user=postgres
  export DATABASE_URL=${PARLEY_TEST_DATABASE_URL:-postgres://$pg_user@$pg_host:5432/test}
  echo "tests: PostgreSQL at $pg_host:5432"
elif [[ ${CI:-} == true ]]; then
  echo "tests: PostgreSQL does not answer on $pg_host:5432, and CI needs it." >&2
  exit 1
else
  unset DATABASE_URL
  echo "tests: no PostgreSQL on $pg_host:5432; using SQLite (PostgreSQL-only tests skip)."
fi
if answers "$redis_host" 6379; then
  export PARLEY_TEST_REDIS_URL=${PARLEY_TEST_REDIS_URL:-redis://$redis_host:6379/14}
  echo "tests: Redis at $redis_host:6379"
elif [[ ${CI:-} == true ]]; then
  echo "tests: Redis does not answer on $redis_host:6379, and CI needs it." >&2
  exit 1
else
  unset PARLEY_TEST_REDIS_URL
  echo "tests: no Redis on $redis_host:6379; tests that need it skip."
fi
amqp_host=${PARLEY_TEST_AMQP_HOST:-127.0.0.1}
if answers "$amqp_host" 5672; then
  export PARLEY_TEST_AMQP_URL=${PARLEY_TEST_AMQP_URL:-amqp://guest:guest@$amqp_host:5672//}
  echo "tests: RabbitMQ at $amqp_host:5672"
elif [[ ${CI:-} == true ]]; then
  echo "tests: RabbitMQ does not answer on $amqp_host:5672, and CI needs it." >&2
  exit 1
else
  unset PARLEY_TEST_AMQP_URL
  echo "tests: no RabbitMQ on $amqp_host:5672; end-to-end tests with a Celery worker skip."
fi
# Debian packages some tests drive for real (a self-contained block: other branches add theirs
# with the same function). Installed as root when missing; a package that cannot be installed
# fails CI, elsewhere its tests skip with the reason.
apt_updated=false
ensure_debian_packages() {  # package...
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "tests: installing ${missing[*]} with apt-get"
    if [[ $apt_updated == false ]]; then
      apt-get update -q >/dev/null && apt_updated=true
    fi
    if apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" \
      >/dev/null; then
      return 0
    fi
  fi
  if [[ ${CI:-} == true ]]; then
    echo "tests: cannot install ${missing[*]}, and CI needs it." >&2
    exit 1
  fi
  echo "tests: ${missing[*]} missing and not installable here; their tests skip."
}
# Prosody (with lua-unbound, or it blocks on a prompt at start) for tests/federation.
ensure_debian_packages prosody lua-unbound
# OpenLDAP's slapd and ldapadd for tests/directory (the tests start their own slapd on loopback);
# noninteractive, or slapd's debconf questions wait for an answer.
DEBIAN_FRONTEND=noninteractive ensure_debian_packages slapd ldap-utils
# nginx terminating TLS with a certificate openssl makes, for tests/e2e/test_tls.py.
ensure_debian_packages nginx openssl
# The browser tests (tests/web) drive Debian's Chromium through Playwright; Playwright never
# downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# An emoji font, so reactions in the screenshots are drawn as people see them.
ensure_debian_packages chromium chromium-driver fonts-noto-color-emoji
# The fault tests (tests/e2e/test_faults_*.py) start, stop and restart private instances of the
# services: a RabbitMQ node, a redis-server and a PostgreSQL cluster.
ensure_debian_packages rabbitmq-server redis-server postgresql
# Korean and Traditional Chinese: gettext's msgfmt compiles locale/*.po (the .mo files are built,
# never committed), and the browser tests render the pages in Noto CJK.
ensure_debian_packages gettext fonts-noto-cjk
if command -v msgfmt >/dev/null; then
  .venv/bin/python manage.py compilemessages --ignore .venv --verbosity 0
elif [[ ${CI:-} == true ]]; then
  echo "tests: msgfmt (Debian's gettext) is missing, and CI needs the translations." >&2
  exit 1
else
  echo "tests: msgfmt missing: translations are not compiled; the language tests fail."
fi
export PARLEY_TEST_CHROMIUM=${PARLEY_TEST_CHROMIUM:-/usr/bin/chromium}
# The unit tests use the in-memory channel layer and in-process tasks; the end-to-end tests
# start their own servers and Celery worker on PostgreSQL and Redis.
unset REDIS_URL CELERY_BROKER_URL DJANGO_PRODUCTION
exec .venv/bin/python -m pytest "$@"
