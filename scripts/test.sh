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
# The browser tests (tests/web) drive Debian's Chromium through Playwright; Playwright never
# downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
chromium=${PARLEY_TEST_CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
  if [[ $(id -u) == 0 ]]; then
    echo "tests: installing Chromium from Debian for the browser tests"
    if ! { apt-get update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends chromium chromium-driver; }; then
      if [[ ${CI:-} == true ]]; then
        echo "tests: installing Chromium failed, and CI needs it for the browser tests." >&2
        exit 1
      fi
      echo "tests: installing Chromium failed; the browser tests (tests/web) skip."
    fi
  elif [[ ${CI:-} == true ]]; then
    echo "tests: no Chromium at $chromium and not root to install it; CI needs it (run as" \
      "root, or apt-get install chromium chromium-driver first)." >&2
    exit 1
  else
    echo "tests: no Chromium at $chromium and not root to install it; the browser tests" \
      "(tests/web) skip. Install it with: apt-get install chromium chromium-driver"
  fi
fi
export PARLEY_TEST_CHROMIUM=$chromium
# The unit tests use the in-memory channel layer and in-process tasks; the end-to-end tests
# start their own servers and Celery worker on PostgreSQL and Redis.
unset REDIS_URL CELERY_BROKER_URL DJANGO_PRODUCTION
exec .venv/bin/python -m pytest "$@"
