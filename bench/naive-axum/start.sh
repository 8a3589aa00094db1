#!/usr/bin/env bash
# Starts the naive axum + broadcast server on 127.0.0.1:$PORT (default 18011) and prints its
# PID. POST /publish (the body is the event's data), GET /events.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
raise_limits
PORT=${PORT:-18011}
start_crate naive-axum "${NAIVE_BIN:-$TARGET/release/naive-axum}"
