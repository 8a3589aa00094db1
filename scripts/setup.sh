#!/usr/bin/env bash
# Installs and starts what the project needs beyond the Rust toolchain. Idempotent: safe to
# run on every CI run and on a developer's machine.
set -euo pipefail

need_node() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
  fi
}

need_node

# Debian's Chromium, for the browser tests (headless).
if ! [ -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

# promtool (Debian's prometheus package) checks the shipped alerting rules and the metrics'
# names (tests/api/observability.rs).
if ! command -v promtool >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus
fi

# Debian's mosquitto, which tests/api/mqtt.rs starts on a spare port of its own.
if ! [ -x /usr/sbin/mosquitto ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto
fi

# Debian's nginx, which tests/api/proxy.rs runs in front of the server with the shipped
# deploy/nginx/parkstream.conf (its own process and files; the system's nginx stays stopped).
if ! [ -x /usr/sbin/nginx ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx
fi

# schemathesis, which fuzzes the API from its OpenAPI document (scripts/fuzz_api.py).
if ! command -v schemathesis >/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check schemathesis==4.32.5
fi

# PostgreSQL and Redis, for the PostgreSQL run of the integration suite and the cluster tests
# (tests/api/cluster.rs): installed from Debian's packages if missing, started if not running.
# The TLS tests (tests/api/db_tls.rs) run their own servers from the same packages: initdb and
# pg_ctl under /usr/lib/postgresql, and Debian's redis-server, which is built with TLS.
if ! command -v pg_ctlcluster >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
# The tests connect as postgres over TCP without a password: the machine's setting (trust on
# loopback). A fresh Debian install asks for one; allow loopback the same way then.
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  hba=$(su postgres -c "psql -Atc 'show hba_file'")
  sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  su postgres -c "psql -Atc 'select pg_reload_conf()'" >/dev/null
fi
psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1 from pg_database where datname = 'test'" | grep -q 1 ||
  psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test'

if ! command -v redis-server >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
