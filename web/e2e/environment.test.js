// What the other tests need, as one clear failure rather than five cancelled suites: the
// browser (skipped outside CI when missing, a failure in CI) and the server binary
// (PARKSTREAM_BIN; `cargo build --bin parkstream` makes the default one).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { BIN, CHROMIUM, browserSkip, chromiumAvailable, waitForBinary } from './helpers.js';

test(`Chromium is installed at ${CHROMIUM}`, { skip: browserSkip }, () => {
  assert.ok(chromiumAvailable(), `no executable Chromium at ${CHROMIUM}: install Debian's chromium (scripts/setup.sh) or set PARKSTREAM_CHROMIUM`);
});

// A binary being rebuilt is missing for a moment: this waits for it (up to 2 minutes).
test(`the server binary is at ${BIN}`, { timeout: 150_000 }, async () => {
  await waitForBinary();
});
