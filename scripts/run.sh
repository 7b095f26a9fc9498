#!/usr/bin/env bash
# Install and run Parley on the embedded defaults: SQLite (WAL) in var/, the in-memory channel
# layer, Celery tasks in-process, the embedded tantivy search index. Serves http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh requirements.txt
.venv/bin/python manage.py migrate --no-input
.venv/bin/python manage.py collectstatic --no-input --verbosity 0
.venv/bin/python manage.py seed_demo
echo "Parley is starting on http://${PARLEY_HOST:-127.0.0.1}:${PARLEY_PORT:-8000} (Ctrl-C stops it)."
exec .venv/bin/uvicorn config.asgi:application --host "${PARLEY_HOST:-127.0.0.1}" \
  --port "${PARLEY_PORT:-8000}" --ws websockets-sansio --ws-max-size 1048576
