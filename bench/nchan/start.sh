#!/usr/bin/env bash
# Starts nginx with the nchan module on 127.0.0.1:$PORT (default 18012) from
# nginx.conf.template, in a fresh directory (never the system's nginx or port 80), and
# prints the master's PID (its workers are its children: measure with --server-tree).
# POST /publish, GET /events. Needs `apt-get install -y nginx libnginx-mod-nchan`.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
raise_limits
PORT=${PORT:-18012}
command -v nginx >/dev/null || { echo "nginx is not installed (apt-get install -y nginx libnginx-mod-nchan)" >&2; exit 1; }
DIR="$(mktemp -d /tmp/nchan-bench.XXXXXX)"
sed -e "s|@PORT@|$PORT|g" -e "s|@DIR@|$DIR|g" "$BENCH_DIR/nchan/nginx.conf.template" >"$DIR/nginx.conf"
pid=$(start_bg "$DIR/stderr.log" nginx -p "$DIR" -c "$DIR/nginx.conf" -e "$DIR/error.log")
wait_port "$PORT"
echo "$pid"
