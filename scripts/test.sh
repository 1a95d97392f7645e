#!/usr/bin/env bash
# The whole suite: on SQLite with the local-memory cache always, then again on PostgreSQL with
# Redis when they answer. With CI=true both must answer, or the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL=${TOWNHALL_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
REDIS_URL=${TOWNHALL_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export TOWNHALL_VAR_DIR="$scratch" TOWNHALL_SECRET_KEY="test-only-$(date +%s%N)"
# The compiled toxicity model (moderation/toxicity.py), shared by both runs and every server.
export TOWNHALL_MODEL_DIR="$scratch/models"
unset TOWNHALL_DATABASE_URL TOWNHALL_REDIS_URL

echo "== Townhall tests on SQLite (local-memory cache)"
"$BIN/python" -m pytest "$@"

answers() {
  "$BIN/python" - "$1" "$2" <<'PY'
import sys
kind, url = sys.argv[1], sys.argv[2]
try:
    if kind == "postgres":
        import psycopg
        psycopg.connect(url, connect_timeout=3).close()
    else:
        import redis
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
except Exception as error:
    print(f"{kind} at {url} does not answer: {error}", file=sys.stderr)
    sys.exit(1)
PY
}

if answers postgres "$PG_URL" && answers redis "$REDIS_URL"; then
  echo "== Townhall tests on PostgreSQL with Redis (browser tests ran in the SQLite pass)"
  TOWNHALL_DATABASE_URL="$PG_URL" TOWNHALL_REDIS_URL="$REDIS_URL" \
    TOWNHALL_CACHE_PREFIX="townhall-test" "$BIN/python" -m pytest -m "not browser" "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "CI=true: PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) must answer." >&2
  exit 1
else
  echo "== Skipped the PostgreSQL + Redis run: they do not answer here."
fi
