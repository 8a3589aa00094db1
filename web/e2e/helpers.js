// Shared pieces of the dashboard's end-to-end tests: the real parkstream server (the
// launcher of clients/js/test/server.js: started, stopped and restarted on the same port and
// database), headless Chromium through playwright-core, and small waiting helpers.
//
// Everything started here is also killed when the test process exits, and temporary
// directories are removed then, so a failing or interrupted test leaves nothing behind.
//
// Environment:
//   PARKSTREAM_BIN        the server binary (default target/debug/parkstream of this repository)
//   PARKSTREAM_CHROMIUM   the browser (default /usr/bin/chromium, Debian's package)
//   CI=true               a missing Chromium fails the tests instead of skipping them

import { accessSync, constants as fsConstants } from 'node:fs';

import { chromium } from 'playwright-core';

import { BIN, Server, makeTempDir, mintToken, removeTempDir, waitForBinary } from '../../clients/js/test/server.js';

export { BIN, Server, mintToken, waitForBinary };

export const CHROMIUM = process.env.PARKSTREAM_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const VIEWPORT = { width: 1280, height: 900 };

// --- Chromium ------------------------------------------------------------------------------------

export function chromiumAvailable() {
  try {
    accessSync(CHROMIUM, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The `skip` option of a suite that needs the browser: skipped when Chromium is missing,
 * except in CI, where the suite runs and fails in `launchBrowser`.
 */
export const browserSkip =
  chromiumAvailable() || process.env.CI === 'true' ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;

/**
 * Launches headless Chromium with a fresh profile in a temporary directory. Returns the
 * context and a `close()` that also removes the profile. Each page opened through `open()`
 * records its console messages and uncaught errors, for assertions and failure reports.
 */
export async function launchBrowser() {
  if (!chromiumAvailable()) {
    throw new Error(`Chromium is missing at ${CHROMIUM} (CI=true: a missing browser fails the run)`);
  }
  const profile = await makeTempDir('parkstream-e2e-profile-');
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: VIEWPORT,
      timeout: 30_000,
    });
  } catch (error) {
    await removeTempDir(profile);
    throw error;
  }
  const logs = [];
  const pageErrors = [];
  let pageCount = 0;

  return {
    context,
    logs,
    pageErrors,
    /**
     * Opens the dashboard of `server` (at `path`, e.g. '/?token=...') in a new page; waits
     * until its stream is connected unless told not to.
     */
    async open(server, { name = `page${++pageCount}`, waitConnected = true, path = '/' } = {}) {
      const page = await context.newPage();
      page.on('console', (msg) => logs.push(`[${name}] console.${msg.type()}: ${msg.text()}`));
      page.on('pageerror', (error) => {
        pageErrors.push(`[${name}] ${error.stack || error.message}`);
        logs.push(`[${name}] pageerror: ${error.message}`);
      });
      page.on('response', (res) => {
        if (res.status() >= 400) logs.push(`[${name}] ${res.status()} ${res.request().method()} ${res.url()}`);
      });
      page.on('requestfailed', (req) => logs.push(`[${name}] request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`));
      await page.goto(`${server.base}${path}`, { waitUntil: 'load' });
      if (waitConnected) await waitForConnection(page, 'connected', 10_000);
      return page;
    },
    async close() {
      try {
        await context.close();
      } finally {
        await removeTempDir(profile);
      }
    },
  };
}

/** Items of a list answer, whether it is a bare array or wrapped. */
export function items(body) {
  if (Array.isArray(body)) return body;
  for (const key of ['items', 'data', 'alerts', 'violations', 'lots']) {
    if (Array.isArray(body?.[key])) return body[key];
  }
  throw new Error(`not a list: ${JSON.stringify(body)}`);
}

// --- page helpers ------------------------------------------------------------------------------

export const sel = {
  lotCard: (id) => `[data-testid="lot-card"][data-lot-id="${id}"]`,
  lotOccupied: (id) => `[data-testid="lot-card"][data-lot-id="${id}"] [data-testid="lot-occupied"]`,
  alertRow: (id) => `[data-testid="alert-row"][data-alert-id="${id}"]`,
  violationRow: (id) => `[data-testid="violation-row"][data-violation-id="${id}"]`,
  status: '[data-testid="connection-status"]',
};

export async function connectionState(page) {
  return page.getAttribute(sel.status, 'data-state');
}

export async function waitForConnection(page, state, timeout = 10_000) {
  try {
    await page.waitForSelector(`${sel.status}[data-state="${state}"]`, { state: 'attached', timeout });
  } catch (error) {
    const now = await connectionState(page).catch(() => '?');
    throw new Error(`connection status did not become "${state}" within ${timeout} ms (it is "${now}")`, { cause: error });
  }
}

/** Waits until the text of `selector` is `text`; a useful message when it never is. */
export async function waitForText(page, selector, text, timeout = 5000) {
  try {
    await page.waitForFunction(
      ([s, t]) => document.querySelector(s)?.textContent === t,
      [selector, text],
      { timeout, polling: 'raf' },
    );
  } catch (error) {
    const now = await page.evaluate((s) => document.querySelector(s)?.textContent ?? null, selector).catch(() => '?');
    throw new Error(`${selector} did not read ${JSON.stringify(text)} within ${timeout} ms (it reads ${JSON.stringify(now)})`, {
      cause: error,
    });
  }
}

/** Waits until `selector` is attached (and its attribute, if given, has that value). */
export async function waitForAttr(page, selector, name, value, timeout = 5000) {
  const full = `${selector}[${name}="${value}"]`;
  try {
    await page.waitForSelector(full, { state: 'attached', timeout });
  } catch (error) {
    const now = await page.evaluate(([s, n]) => document.querySelector(s)?.getAttribute(n) ?? '(no such element)', [selector, name]).catch(() => '?');
    throw new Error(`${selector} did not get ${name}="${value}" within ${timeout} ms (it is ${JSON.stringify(now)})`, { cause: error });
  }
}

/**
 * Runs `fn`; if it throws, adds what the page and the server said to the error, so a
 * failure in CI can be understood without rerunning.
 */
export async function withDiagnostics({ browser, server }, fn) {
  try {
    return await fn();
  } catch (error) {
    const parts = [error.message];
    if (browser?.logs.length) parts.push(`--- browser (last 40) ---\n${browser.logs.slice(-40).join('\n')}`);
    if (server) parts.push(`--- server log (last 30 lines) ---\n${server.logTail(30)}`);
    error.message = parts.join('\n');
    throw error;
  }
}
