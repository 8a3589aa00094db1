#!/usr/bin/env bash
# Starts the floor writer on 127.0.0.1:$PORT (default 18015) and prints its PID.
# POST /publish (the body is the event's data), GET /events.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
raise_limits
PORT=${PORT:-18015}
start_crate floor-writer "${FLOOR_BIN:-$TARGET/release/floor-writer}"
