#!/usr/bin/env bash
# Regenerates docs/dashboard.png, the README's picture of the dashboard: the end-to-end
# suite's screenshot test (web/e2e/screenshot.test.js) drives the real server and headless
# Chromium through a few minutes of a parking day and writes the page as it looks today.
# Needs what scripts/setup.sh installs (Node.js, Debian's Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bin parkstream
cd web/e2e
npm ci --no-audit --no-fund --loglevel=error
SCREENSHOT_PATH="$PWD/../../docs/dashboard.png" node --test screenshot.test.js
echo "wrote docs/dashboard.png"
