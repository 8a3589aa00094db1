#!/usr/bin/env bash
# Runs every test of the project: the Rust unit and integration tests (real server on
# 127.0.0.1:0, real SQLite files; the cluster tests on this machine's PostgreSQL and Redis,
# which scripts/setup.sh starts), the integration suite again on PostgreSQL, a schemathesis
# fuzz of the API from its OpenAPI document, then the browser client's tests under Node
# against the real server binary. Exits non-zero on the first failure. The Node suites (the
# OpenAPI document's lint and generated types, the dashboard in headless Chromium, then the
# browser client) run against the same debug binary.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --bin parkstream
# The cluster tests each use a stream of their own on the local Redis; drop earlier runs'.
if command -v redis-cli >/dev/null && redis-cli ping >/dev/null 2>&1; then
  redis-cli --scan --pattern 'parkstream:test:*' | xargs -r redis-cli del >/dev/null
fi
cargo test --workspace --locked

# The same integration suite on PostgreSQL: each test creates its own database there; those of
# earlier runs are dropped first.
export PARKSTREAM_TEST_POSTGRES="${PARKSTREAM_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
if pg_isready -q -d "$PARKSTREAM_TEST_POSTGRES"; then
  for db in $(psql "$PARKSTREAM_TEST_POSTGRES" -Atc "select datname from pg_database where datname like 'parkstream_t_%'"); do
    psql "$PARKSTREAM_TEST_POSTGRES" -qc "drop database if exists $db" >/dev/null
  done
  cargo test --locked -p parkstream-server --test api
elif [ "${CI:-}" = true ]; then
  echo "PostgreSQL is not running at $PARKSTREAM_TEST_POSTGRES: scripts/setup.sh starts it" >&2
  exit 1
else
  echo "skipping the PostgreSQL run: nothing answers at $PARKSTREAM_TEST_POSTGRES"
fi
unset PARKSTREAM_TEST_POSTGRES

if command -v schemathesis >/dev/null; then
  python3 scripts/fuzz_api.py target/debug/parkstream
elif [ "${CI:-}" = true ]; then
  echo "schemathesis is missing: scripts/setup.sh installs it" >&2
  exit 1
else
  echo "skipping the API fuzz: schemathesis is not installed (scripts/setup.sh installs it)"
fi

# clients/openapi lints the served OpenAPI document (Redocly, recommended rules: any error
# fails) and type-checks the TypeScript types openapi-typescript generates from it.
# clients/webhook-verify checks webhook signatures with the Standard Webhooks library.
for suite in clients/openapi web/e2e clients/js clients/webhook-verify; do
  (cd "$suite" && npm ci --no-audit --no-fund --loglevel=error && npm test)
done
