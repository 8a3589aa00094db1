#!/usr/bin/env bash
# Starts the floor writer on 127.0.0.1:$PORT (default 18015) and prints its PID.
# POST /publish (the body is the event's data), GET /events.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
raise_limits
PORT=${PORT:-18015}
BIN="${FLOOR_BIN:-$TARGET/release/floor-writer}"
[ -x "$BIN" ] || CARGO_TARGET_DIR="$TARGET" cargo build --release --manifest-path "$BENCH_DIR/floor-writer/Cargo.toml" >&2
pid=$(PORT=$PORT start_bg "/tmp/floor-writer-$PORT.log" "$BIN")
wait_port "$PORT"
echo "$pid"
