#!/usr/bin/env bash
# Runs every test of the project: the Rust unit and integration tests (real server on
# 127.0.0.1:0, real SQLite files), then the browser client's tests under Node against the
# real server binary. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --bin parkstream
cargo test --workspace --locked

if [ -f clients/js/package.json ]; then
  (cd clients/js && npm ci --no-audit --no-fund --loglevel=error && npm test)
fi
