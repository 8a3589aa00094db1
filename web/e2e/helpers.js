// Shared pieces of the dashboard's end-to-end tests: the real parkstream server (started,
// stopped and restarted on the same port and database), headless Chromium through
// playwright-core, and small waiting helpers.
//
// Everything started here is also killed when the test process exits, and temporary
// directories are removed then, so a failing or interrupted test leaves nothing behind.
//
// Environment:
//   PARKSTREAM_BIN        the server binary (default ../../target/debug/parkstream from here)
//   PARKSTREAM_CHROMIUM   the browser (default /usr/bin/chromium, Debian's package)
//   CI=true               a missing Chromium fails the tests instead of skipping them

import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

export const BIN = process.env.PARKSTREAM_BIN
  ? path.resolve(process.env.PARKSTREAM_BIN)
  : path.resolve(here, '../../target/debug/parkstream');
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

// --- last-resort cleanup ---------------------------------------------------------------------

const children = new Set();
const tempDirs = new Set();

process.on('exit', () => {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});

async function makeTempDir(prefix) {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

async function removeTempDir(dir) {
  await rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

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
    /** Opens the dashboard of `server` in a new page; waits until its stream is connected. */
    async open(server, { name = `page${++pageCount}`, waitConnected = true } = {}) {
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
      await page.goto(`${server.base}/`, { waitUntil: 'load' });
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

// --- the parkstream server -------------------------------------------------------------------

// The binary may be rebuilt under us: wait for it to be back.
export async function waitForBinary(timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(BIN, fsConstants.X_OK);
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`parkstream binary not found at ${BIN} (set PARKSTREAM_BIN)`, { cause: error });
      }
      await sleep(500);
    }
  }
}

function spawnOnce(bind, databaseUrl) {
  return new Promise((resolve, reject) => {
    const args = ['serve', '--bind', bind, '--database-url', databaseUrl, '--log-format', 'json', '--ping-interval', '1s', '--auth', 'none'];
    const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.add(child);
    const log = [];
    let buffered = '';
    let settled = false;
    const finish = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(value);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(reject, new Error(`parkstream did not start within 20 s; stderr:\n${log.join('\n')}`));
    }, 20_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        log.push(line);
        if (log.length > 500) log.splice(0, log.length - 500);
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        if (entry.message === 'parkstream listening' && typeof entry.addr === 'string') {
          finish(resolve, { child, addr: entry.addr, log });
        }
      }
    });
    child.on('error', (error) => {
      children.delete(child);
      finish(reject, error);
    });
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (buffered) log.push(buffered);
      finish(reject, new Error(`parkstream exited (code ${code}, signal ${signal}) before listening; stderr:\n${log.join('\n')}`));
    });
  });
}

function waitForExit(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** The real server, on 127.0.0.1, with its own SQLite database in a temporary directory. */
export class Server {
  constructor(dir) {
    this.dir = dir;
    this.databaseUrl = `sqlite://${path.join(dir, 'p.db')}`;
    this.child = null;
    this.port = null;
    this.log = [];
  }

  static async start() {
    const server = new Server(await makeTempDir('parkstream-e2e-'));
    try {
      await server.start();
    } catch (error) {
      await removeTempDir(server.dir);
      throw error;
    }
    return server;
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts on a free port the first time, on the same port (and database) after that. */
  async start() {
    await waitForBinary();
    const bind = this.port === null ? '127.0.0.1:0' : `127.0.0.1:${this.port}`;
    let lastError;
    // The port of a server that just stopped can take a moment to be free again.
    for (let i = 0; i < 40; i += 1) {
      try {
        const { child, addr, log } = await spawnOnce(bind, this.databaseUrl);
        this.child = child;
        this.log = log;
        this.port = Number(addr.slice(addr.lastIndexOf(':') + 1));
        child.once('exit', () => {
          if (this.child === child) this.child = null;
        });
        return this;
      } catch (error) {
        lastError = error;
        if (!/address|in use|bind/i.test(String(error.message))) throw error;
        await sleep(250);
      }
    }
    throw lastError;
  }

  /** SIGTERM (a graceful stop); SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000) {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    if (!(await waitForExit(child, graceMs))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5000);
      throw new Error(`parkstream did not exit within ${graceMs} ms of SIGTERM`);
    }
    this.child = null;
  }

  /** Stops the server (if running) and removes its database. */
  async dispose() {
    try {
      await this.stop(5000);
    } finally {
      await removeTempDir(this.dir);
    }
  }

  logTail(lines = 30) {
    return this.log.slice(-lines).join('\n');
  }

  /** One request; a JSON body is sent as JSON. Returns status, headers, parsed body, text. */
  async request(method, urlPath, body) {
    const response = await fetch(this.base + urlPath, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, body: json, text };
  }

  /** A request that must answer one of `ok` (default any 2xx); returns the parsed body. */
  async call(method, urlPath, body, ok = null) {
    const r = await this.request(method, urlPath, body);
    const good = ok ? ok.includes(r.status) : r.status >= 200 && r.status < 300;
    if (!good) {
      throw new Error(`${method} ${urlPath} ${JSON.stringify(body) ?? ''} answered ${r.status}: ${r.text}`);
    }
    return r.body;
  }

  putLot(id, name, totalSlots) {
    return this.call('PUT', `/api/lots/${encodeURIComponent(id)}`, { name, totalSlots }, [200, 201]);
  }

  setOccupied(parkingLotId, occupied) {
    return this.call('POST', '/api/capacity/update', { parkingLotId, occupied }, [200]);
  }

  gate(parkingLotId, event, plateNumber, gateId) {
    return this.call('POST', '/api/monitor/gate', { parkingLotId, event, plateNumber, gateId }, [200]);
  }

  putContractor(id, body) {
    return this.call('PUT', `/api/contractors/${encodeURIComponent(id)}`, body, [200, 201]);
  }

  alerts(query = '') {
    return this.call('GET', `/api/alerts${query}`);
  }

  violations(query = '') {
    return this.call('GET', `/api/violations${query}`);
  }
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
