# The parkstream entry for the shared benchmark: PEERS_EXTRA=<this file> run-all.sh parkstream ...
# Publishes through POST /api/capacity/update (stored before it is answered) and subscribes
# on /api/sse/dashboard; the sequence number travels as the lot's count.
PARKSTREAM_BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peer_parkstream() {
  bench_server parkstream "$PARKSTREAM_BENCH_DIR/start.sh" \
    http://127.0.0.1:18010/api/capacity/update http://127.0.0.1:18010/api/sse/dashboard \
    '{"parkingLotId":"bench","occupied":{seq},"totalSlots":1000000000}' \
    --seq-regex '"occupied":(\d+)'
}
# The same with one stream thread (`--stream-workers 1`), which leaves a core to whatever
# shares the machine (here the load generator); see docs/performance.md.
peer_parkstream-1thread() {
  bench_server parkstream-1thread "PARKSTREAM_ARGS='--stream-workers 1' $PARKSTREAM_BENCH_DIR/start.sh" \
    http://127.0.0.1:18010/api/capacity/update http://127.0.0.1:18010/api/sse/dashboard \
    '{"parkingLotId":"bench","occupied":{seq},"totalSlots":1000000000}' \
    --seq-regex '"occupied":(\d+)'
}
