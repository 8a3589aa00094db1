#!/usr/bin/env bash
# Runs the scenarios of docs/performance.md against every server, one fresh server per run,
# appends one JSON line per run to $OUT/results.jsonl and rewrites $OUT/results.md (the table,
# from the latest line of each scenario and server).
#
# Usage: bench/run.sh [SCENARIO...]          scenarios: s1 s2 s3 s4 s5 s5-pg s6 s7 s8 (default: all)
#   SERVERS="parkstream naive-axum nchan floor-writer"
#                                            which servers (s5 to s8 are parkstream's own; the
#                                            floor writer is measured in s1 and s2 only)
#   BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432   server for s5-pg and s6 (its database
#                                            parkstream_bench is dropped and made afresh)
#   BENCH_REDIS=redis://127.0.0.1:6379       Redis for s6 (a new stream key each run)
#   S6_STREAMS=6000 S6_RATE=50               s6's streams per instance and events per second
#   OUT=bench/results                        where results go
#   PIN=1                                    server on core 0, load generator on core 1
#   IDLE_CLIENTS=19500                       streams opened in s3 (mind `ulimit -Hn`)
#   PARKSTREAM_BIN, PARKSTREAM_ARGS, NAIVE_BIN, LOADGEN: other binaries or server flags
# Hold the machine still while it runs (on a shared machine: under the build lock).
set -uo pipefail
set -f # URLs hold `?`; nothing here is a file pattern
. "$(dirname "$0")/lib.sh"
raise_limits
SERVERS=${SERVERS:-parkstream naive-axum nchan floor-writer}
OUT=${OUT:-$BENCH_DIR/results}
IDLE_CLIENTS=${IDLE_CLIENTS:-19500}
LOADGEN="${LOADGEN:-${PARKSTREAM_BIN:-$TARGET/release/parkstream}}"
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(s1 s2 s3 s4 s5 s5-pg s6 s7 s8)
BENCH_POSTGRES=${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
BENCH_REDIS=${BENCH_REDIS:-redis://127.0.0.1:6379}
S6_STREAMS=${S6_STREAMS:-6000}
S6_RATE=${S6_RATE:-50}
mkdir -p "$OUT"
[ -x "$LOADGEN" ] || cargo build --release --manifest-path "$REPO/Cargo.toml" --bin parkstream

# How the load generator reaches each server: stream URL, publish URL, body, number pattern,
# and whether the server is a process tree.
target_args() {
  case "$1" in
    parkstream) echo --sub-url "http://127.0.0.1:18010/api/sse/dashboard?lots=bench" \
      --pub-url http://127.0.0.1:18010/api/capacity/update \
      --body '{"parkingLotId":"bench","occupied":{seq}}' --seq-regex '"occupied":(\d+)' ;;
    naive-axum) echo --sub-url http://127.0.0.1:18011/events --pub-url http://127.0.0.1:18011/publish ;;
    nchan) echo --sub-url http://127.0.0.1:18012/events --pub-url http://127.0.0.1:18012/publish --server-tree ;;
    # The same bytes as parkstream's frames: its `data` for lot `bench`, with the number.
    floor-writer) echo --sub-url http://127.0.0.1:18015/events --pub-url http://127.0.0.1:18015/publish \
      --body '{"parkingLotId":"bench","totalSlots":1000000000,"occupied":{seq},"empty":999876544,"occupancyRate":0.000123456,"timestamp":"2026-12-03T17:07:44.130Z"}' \
      --seq-regex '"occupied":(\d+)' ;;
    *) echo "unknown server $1" >&2; return 1 ;;
  esac
}

loadgen() {
  if [ "${PIN:-0}" = 1 ]; then taskset -c 1 "$LOADGEN" loadtest "$@"; else "$LOADGEN" loadtest "$@"; fi
}

# The last load test's output (shown on stderr) and its JSON report, or null when it printed
# none. Through a file: `tee /dev/stderr` would reopen, and so truncate, a redirected log.
last_report() {
  local report
  cat "$OUT/last.txt" >&2
  report=$(tail -n1 "$OUT/last.txt")
  case "$report" in "{"*) echo "$report" ;; *) echo null ;; esac
}

# record SERVER SCENARIO REPORT [ARGS]: appends one JSON line to $OUT/results.jsonl.
record() {
  python3 - "$1" "$2" "${PIN:-0}" "$3" "${4:-}" >>"$OUT/results.jsonl" <<'PY'
import json, sys, datetime
server, scenario, pin, report, args = sys.argv[1:]
line = {"server": server, "scenario": scenario, "pin": pin == "1"}
if args:
    line["args"] = args
line["at"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
line["report"] = json.loads(report)
print(json.dumps(line))
PY
}

# run SERVER SCENARIO LOADTEST-ARGS...: one fresh server, one load test, one JSON line.
# Prints the load test's JSON report (empty when it printed none).
run() {
  local server="$1" scenario="$2"; shift 2
  local pid report
  pid=$(PIN=${PIN:-0} "$BENCH_DIR/$server/start.sh" | tail -n1) || { echo "$server did not start" >&2; return 1; }
  sleep 1
  echo "== $server $scenario: $*" >&2
  loadgen "$@" --server-pid "$pid" >"$OUT/last.txt"
  report=$(last_report)
  "$BENCH_DIR/stop.sh" "$pid"
  record "$server" "$scenario" "$report" "$*"
  echo "$report"
}

# S4: the highest rate to 1,000 clients with p99 under 100 ms and nothing lost. Doubles from
# 400 ev/s until a rate fails (or the publishers fall 10% short of it), then halves the gap twice; each step is a 5 s run.
max_rate() {
  local server="$1" pass=0 fail=0 rate=400 report
  # shellcheck disable=SC2046
  while :; do
    report=$(run "$server" s4-step $(target_args "$server") --clients 1000 --rate "$rate" --duration 5s --pub-conns 32) ||
      { echo "$server: giving up on s4" >&2; return 1; }
    if python3 -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r and r["lost"]==0 and r["deliveries_per_second"]>=0.9*r["rate"]*r["clients"] and r["latency_ms"]["p99"]<100 else 1)' "$report"; then
      pass=$rate
    else
      fail=$rate
    fi
    if [ "$fail" = 0 ]; then
      [ "$rate" -ge 51200 ] && break
      rate=$((rate * 2))
    else
      [ $((fail - pass)) -le $((fail / 4)) ] && break
      rate=$(((pass + fail) / 2))
    fi
  done
  record "$server" s4 "{\"max_rate\": $pass}"
}

# S7: a restart under load. 10,000 streams resume by id while 20 ev/s flow; 20 s after the
# load generator starts (its streams open in about 10 s) the server gets SIGTERM, drains, and
# is started again on the same database and port.
storm() {
  local data pid loadgen_pid report
  data=$(mktemp -d /tmp/parkstream-bench.XXXXXX)
  pid=$(DATA_DIR="$data" PIN=${PIN:-0} "$BENCH_DIR/parkstream/start.sh" | tail -n1) || return 1
  sleep 1
  echo "== parkstream s7: restart under 10,000 streams" >&2
  # shellcheck disable=SC2046 # target_args is a list of arguments
  loadgen $(target_args parkstream) --clients 10000 --rate 20 --duration 30s --pub-conns 4 \
    --reconnect >"$OUT/last.txt" &
  loadgen_pid=$!
  sleep 20
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  pid=$(DATA_DIR="$data" PIN=${PIN:-0} "$BENCH_DIR/parkstream/start.sh" | tail -n1) || return 1
  wait "$loadgen_pid"
  report=$(last_report)
  "$BENCH_DIR/stop.sh" "$pid"
  record parkstream s7 "$report"
}

# S6: INSTANCES instances of one cluster (one PostgreSQL database, one Redis stream),
# $S6_STREAMS streams on each, $S6_RATE ev/s published through all of them in turn; the
# report adds Redis's and PostgreSQL's CPU. Run with 3, and with 1 carrying the same total.
cluster() {
  local instances="$1" streams="$2" key pids=() urls=() port pid report
  psql "$BENCH_POSTGRES/postgres" -qc 'DROP DATABASE IF EXISTS parkstream_bench' \
    -c 'CREATE DATABASE parkstream_bench' || return 1
  key="parkstream-bench-$(date +%s%N)"
  for i in $(seq "$instances"); do
    port=$((18019 + i))
    pid=$(PORT=$port DATABASE_URL="$BENCH_POSTGRES/parkstream_bench" PIN=${PIN:-0} \
      PARKSTREAM_ARGS="--redis-url $BENCH_REDIS --redis-stream $key ${PARKSTREAM_ARGS:-}" \
      "$BENCH_DIR/parkstream/start.sh" | tail -n1) || return 1
    pids+=("$pid") urls+=("http://127.0.0.1:$port")
  done
  sleep 1
  echo "== parkstream s6: $instances instance(s), $streams streams, $S6_RATE ev/s" >&2
  loadgen --url "$(IFS=,; echo "${urls[*]}")" --clients "$streams" --rate "$S6_RATE" \
    --duration 20s --pub-conns 6 --server-pid "$(IFS=,; echo "${pids[*]}")" \
    --service-pid "redis=$(pgrep -o -x redis-server)" --service-pid "postgres=$(pgrep -o -x postgres)" \
    >"$OUT/last.txt"
  report=$(last_report)
  for pid in "${pids[@]}"; do "$BENCH_DIR/stop.sh" "$pid"; done
  record parkstream "s6-$instances" "$report"
}

for scenario in "${SCENARIOS[@]}"; do
  for server in $SERVERS; do
    # shellcheck disable=SC2046 # target_args is a list of arguments
    case "$scenario" in
      s1) run "$server" s1 $(target_args "$server") --clients 1000 --rate 100 --duration 20s --pub-conns 4 >/dev/null ;;
      s2) run "$server" s2 $(target_args "$server") --clients 10000 --rate 20 --duration 20s --pub-conns 4 >/dev/null ;;
      s3) [ "$server" != floor-writer ] && run "$server" s3 $(target_args "$server") --idle --clients "$IDLE_CLIENTS" --duration 5s >/dev/null ;;
      s4) [ "$server" != floor-writer ] && max_rate "$server" ;;
      s5) [ "$server" = parkstream ] && run parkstream s5 --url http://127.0.0.1:18010 --ingest \
            --clients 1000 --lots 100 --batch 200 --publishers 4 --duration 15s >/dev/null ;;
      s5-pg) [ "$server" = parkstream ] && {
          psql "$BENCH_POSTGRES/postgres" -qc 'DROP DATABASE IF EXISTS parkstream_bench' -c 'CREATE DATABASE parkstream_bench' &&
          DATABASE_URL="$BENCH_POSTGRES/parkstream_bench" run parkstream s5-pg --url http://127.0.0.1:18010 --ingest \
            --clients 1000 --lots 100 --batch 200 --publishers 4 --duration 15s >/dev/null; } ;;
      s6) [ "$server" = parkstream ] && cluster 3 $((3 * S6_STREAMS)) && cluster 1 $((3 * S6_STREAMS)) ;;
      s7) [ "$server" = parkstream ] && storm ;;
      # Overload: publishers as fast as they are answered, each event to 100 of 10,000 streams,
      # more than the fan-out delivers; they should be slowed, the dashboards never dropped.
      s8) [ "$server" = parkstream ] && run parkstream s8 --url http://127.0.0.1:18010 --ingest \
            --clients 10000 --lots 100 --batch 200 --publishers 16 --duration 20s >/dev/null ;;
      *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
  done
done
python3 "$BENCH_DIR/table.py" "$OUT/results.jsonl" >"$OUT/results.md"
cat "$OUT/results.md"
