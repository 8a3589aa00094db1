# Helpers shared by the start scripts and bench/run.sh (sourced, not run).

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$BENCH_DIR/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"

# Every stream is a file descriptor, in the server and in the load generator.
raise_limits() {
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# Waits until something answers on 127.0.0.1:$1 (up to 10 s).
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# Starts a command in the background, detached from this shell's output, and prints its
# PID; PIN=1 puts it on core 0 (the load generator then takes core 1).
start_bg() {
  local log="$1"; shift
  if [ "${PIN:-0}" = 1 ]; then
    taskset -c 0 "$@" >"$log" 2>&1 </dev/null &
  else
    "$@" >"$log" 2>&1 </dev/null &
  fi
  echo $!
}

# Starts one of the bench's own Rust servers, bench/$1/ (its binary $2, built on first use
# into the target directory), on 127.0.0.1:$PORT, and prints its PID.
start_crate() {
  local name="$1" bin="$2" pid
  [ -x "$bin" ] || CARGO_TARGET_DIR="$TARGET" cargo build --release --manifest-path "$BENCH_DIR/$name/Cargo.toml" >&2
  pid=$(PORT=$PORT start_bg "/tmp/$name-$PORT.log" "$bin")
  wait_port "$PORT"
  echo "$pid"
}
