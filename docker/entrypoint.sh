#!/bin/sh
# Runs the container's command; the web service sets MIGRATE_ON_START=1 so that exactly one
# service applies migrations (the worker and beat start only once web is healthy).
set -eu

if [ "${MIGRATE_ON_START:-0}" = "1" ]; then
    echo "Applying database migrations."
    python manage.py migrate --no-input
fi

exec "$@"
