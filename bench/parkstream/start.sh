#!/usr/bin/env bash
# Starts parkstream for the shared SSE benchmark (../../../shared/bench) on 127.0.0.1:$PORT
# with a fresh SQLite database and one lot, `bench`; prints the server's PID last.
# PARKSTREAM_BIN picks another binary and PARKSTREAM_ARGS adds server flags (to compare two
# builds or settings in one run).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$REPO/../shared/bench/peers}"
. "$PEERS_DIR/lib.sh"
PORT=${PORT:-18010}
BIN="${PARKSTREAM_BIN:-$REPO/target/release/parkstream}"
[ -x "$BIN" ] || cargo build --release --manifest-path "$REPO/Cargo.toml" --bin parkstream >&2
DATA="$(mktemp -d /tmp/parkstream-bench.XXXXXX)"
pid=$(start_bg parkstream "$PORT" "$BIN" serve --bind "127.0.0.1:$PORT" \
  --database-url "sqlite://$DATA/bench.db" --max-clients 20000 --log-format json --auth none --max-streams-per-ip 0 --write-rate-per-ip 0 ${PARKSTREAM_ARGS:-})
curl -sf -X PUT "http://127.0.0.1:$PORT/api/lots/bench" -H 'content-type: application/json' \
  -d '{"name": "Bench", "totalSlots": 1000000000}' >/dev/null
echo "$pid"
