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

# schemathesis, which fuzzes the API from its OpenAPI document (scripts/fuzz_api.py).
if ! command -v schemathesis >/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check schemathesis==4.32.5
fi
