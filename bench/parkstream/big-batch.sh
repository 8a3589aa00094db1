#!/usr/bin/env bash
# One ~1 MB POST /api/monitor/gate of 15,000 entries to lot `a` while one stream watches `a`
# and one watches `b`; then one update to `b`. Prints how long the POST took and what each
# stream received, and whether it is still open (docs/performance.md, "Ingest bursts").
# Usage: bench/parkstream/big-batch.sh [BINARY] (default $CARGO_TARGET_DIR or target, release/parkstream).
set -uo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="${1:-${CARGO_TARGET_DIR:-$REPO/target}/release/parkstream}"
PORT="${PORT:-18020}"
DATA="$(mktemp -d /tmp/parkstream-big-batch.XXXXXX)"
"$BIN" serve --bind "127.0.0.1:$PORT" --database-url "sqlite://$DATA/db" --auth none \
  --write-rate-per-ip 0 >/dev/null 2>&1 &
server=$!
trap 'kill $server ${a:-} ${b:-} 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
for lot in a b; do
  curl -sf -X PUT "http://127.0.0.1:$PORT/api/lots/$lot" -H 'content-type: application/json' \
    -d '{"name": "L", "totalSlots": 1000000}' >/dev/null
done
curl -sN "http://127.0.0.1:$PORT/api/sse/dashboard?lots=a" >"$DATA/a.txt" & a=$!
curl -sN "http://127.0.0.1:$PORT/api/sse/dashboard?lots=b" >"$DATA/b.txt" & b=$!
sleep 0.5
python3 -c "
import json, sys
items = [{'parkingLotId': 'a', 'event': 'vehicle_entry', 'plateNumber': 'P%d' % i} for i in range(15000)]
open(sys.argv[1], 'w').write(json.dumps(items, separators=(',', ':')))" "$DATA/body.json"
curl -s -o /dev/null -w "POST %{http_code} in %{time_total} s ($(stat -c %s "$DATA/body.json") bytes)\n" \
  -X POST "http://127.0.0.1:$PORT/api/monitor/gate" -H 'content-type: application/json' \
  --data-binary "@$DATA/body.json"
sleep 1
curl -sf -X POST "http://127.0.0.1:$PORT/api/capacity/update" -H 'content-type: application/json' \
  -d '{"parkingLotId": "b", "occupied": 7}' >/dev/null
sleep 1
open() { kill -0 "$1" 2>/dev/null && echo open || echo closed; }
echo "stream on a: $(grep -c '^event: capacity_update' "$DATA/a.txt") updates, $(open $a)"
echo "stream on b: $(grep -c '^event: capacity_update' "$DATA/b.txt") updates, $(open $b)"
