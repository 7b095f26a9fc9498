#!/usr/bin/env bash
# Install and run Parley on the embedded defaults: SQLite (WAL) in var/, the in-memory channel
# layer, Celery tasks in-process, the embedded tantivy search index. Serves http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh requirements.txt
# The Korean and Traditional Chinese pages: compile locale/*.po with gettext's msgfmt (installed
# with apt-get when missing and run as root); without it every page is in English.
if ! command -v msgfmt >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  apt-get install -y -q --no-install-recommends gettext >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends gettext >/dev/null; } \
    || true
fi
if command -v msgfmt >/dev/null; then
  .venv/bin/python manage.py compilemessages --ignore .venv --verbosity 0
else
  echo "run: msgfmt (Debian's gettext) is missing: pages are shown in English only."
fi
.venv/bin/python manage.py migrate --no-input
.venv/bin/python manage.py collectstatic --no-input --verbosity 0
.venv/bin/python manage.py seed_demo
echo "Parley is starting on http://${PARLEY_HOST:-127.0.0.1}:${PARLEY_PORT:-8000} (Ctrl-C stops it)."
exec .venv/bin/uvicorn config.asgi:application --host "${PARLEY_HOST:-127.0.0.1}" \
  --port "${PARLEY_PORT:-8000}" --ws websockets-sansio --ws-max-size 1048576
