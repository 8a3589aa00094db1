#!/usr/bin/env bash
# Starts parkstream on 127.0.0.1:$PORT (default 18010) with a fresh SQLite database, no
# auth and no per-client limits, creates the lot `bench`, and prints the server's PID last.
# Publish with POST /api/capacity/update {"parkingLotId":"bench","occupied":N} (stored and
# synced before it is answered), subscribe on /api/sse/dashboard?lots=bench.
# PARKSTREAM_BIN picks another binary, PARKSTREAM_ARGS adds server flags, DATABASE_URL
# another database (it should be empty), DATA_DIR the folder of the SQLite file and the log
# (to start again on the same database).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
raise_limits
PORT=${PORT:-18010}
BIN="${PARKSTREAM_BIN:-$TARGET/release/parkstream}"
[ -x "$BIN" ] || cargo build --release --manifest-path "$REPO/Cargo.toml" --bin parkstream >&2
DATA="${DATA_DIR:-$(mktemp -d /tmp/parkstream-bench.XXXXXX)}"
# shellcheck disable=SC2086 # PARKSTREAM_ARGS is a list of flags
pid=$(start_bg "$DATA/server-$(date +%s%N).log" "$BIN" serve --bind "127.0.0.1:$PORT" \
  --database-url "${DATABASE_URL:-sqlite://$DATA/bench.db}" --max-clients 20000 --log-format json --auth none \
  --max-streams-per-ip 0 --write-rate-per-ip 0 ${PARKSTREAM_ARGS:-})
wait_port "$PORT"
curl -sf -X PUT "http://127.0.0.1:$PORT/api/lots/bench" -H 'content-type: application/json' \
  -d '{"name": "Bench", "totalSlots": 1000000000}' >/dev/null
echo "$pid"
