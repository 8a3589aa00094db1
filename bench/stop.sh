#!/usr/bin/env bash
# Stops a server started by a start script: its PID (and, through it, its children) gets
# SIGTERM, then SIGKILL after 5 s.
set -uo pipefail
pid="$1"
kids=$(pgrep -P "$pid" || true)
kill -TERM "$pid" 2>/dev/null
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$pid" $kids 2>/dev/null || true
exit 0
