#!/usr/bin/env bash
# Runs every test of the project: the Rust unit and integration tests (real server on
# 127.0.0.1:0, real SQLite files), a schemathesis fuzz of the API from its OpenAPI document,
# then the browser client's tests under Node against the real server binary. Exits non-zero
# on the first failure. The Node suites (the dashboard in headless Chromium, then the browser
# client) run against the same debug binary.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --bin parkstream
cargo test --workspace --locked

if command -v schemathesis >/dev/null; then
  python3 scripts/fuzz_api.py target/debug/parkstream
elif [ "${CI:-}" = true ]; then
  echo "schemathesis is missing: scripts/setup.sh installs it" >&2
  exit 1
else
  echo "skipping the API fuzz: schemathesis is not installed (scripts/setup.sh installs it)"
fi

for suite in web/e2e clients/js; do
  (cd "$suite" && npm ci --no-audit --no-fund --loglevel=error && npm test)
done
