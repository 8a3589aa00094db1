// Starts, stops and restarts the real parkstream binary for the tests.
//
// The binary is $PARKSTREAM_BIN, else ../../target/debug/parkstream relative to clients/js.
// Every server started here is killed when the test process exits, also on failure.

import { spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.PARKSTREAM_BIN
  ? path.resolve(process.env.PARKSTREAM_BIN)
  : path.resolve(here, '../../../target/debug/parkstream');

const running = new Set();

process.on('exit', () => {
  for (const child of running) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

// The binary may be rebuilt under us: wait for it to be back.
async function waitForBinary(timeoutMs = 60_000) {
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

function spawnOnce(bind, databaseUrl, extraArgs) {
  return new Promise((resolve, reject) => {
    const args = [
      'serve',
      '--bind', bind,
      '--database-url', databaseUrl,
      '--log-format', 'json',
      '--ping-interval', '1s',
      // These tests are about the stream; access control is tested on the server (a test
      // that sends a token passes its own --auth).
      ...(extraArgs.includes('--auth') ? [] : ['--auth', 'none']),
      ...extraArgs,
    ];
    const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(child);
    let settled = false;
    let buffered = '';
    const log = [];
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`parkstream did not start within 20 s; stderr:\n${log.join('\n')}`));
    }, 20_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (log.length < 200) log.push(line);
        if (settled) continue;
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue;
        }
        if (entry.message === 'parkstream listening' && typeof entry.addr === 'string') {
          settled = true;
          clearTimeout(timer);
          resolve({ child, addr: entry.addr, log });
        }
      }
    });
    child.on('error', (error) => {
      running.delete(child);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      running.delete(child);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`parkstream exited (code ${code}, signal ${signal}) before listening; stderr:\n${log.join('\n')}`));
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

/** A parkstream server with its own database in a temporary directory. */
export class Server {
  constructor({ dir, extraArgs }) {
    this.dir = dir;
    this.extraArgs = extraArgs;
    this.databaseUrl = `sqlite://${path.join(dir, 'p.db')}`;
    this.child = null;
    this.port = null;
    this.log = [];
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  get sseUrl() {
    return `${this.base}/api/sse/dashboard`;
  }

  get running() {
    return this.child !== null;
  }

  async #start(bind) {
    await waitForBinary();
    // The port of a killed server can take a moment to be free again: retry.
    let lastError;
    for (let i = 0; i < 20; i += 1) {
      try {
        const { child, addr, log } = await spawnOnce(bind, this.databaseUrl, this.extraArgs);
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

  /** Starts on a free port (first start) or on the same port as before (restart). */
  start() {
    return this.#start(this.port === null ? '127.0.0.1:0' : `127.0.0.1:${this.port}`);
  }

  /** SIGTERM (graceful shutdown), then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000) {
    const child = this.child;
    if (!child) return;
    try {
      child.kill('SIGCONT');
    } catch {
      // not stopped
    }
    child.kill('SIGTERM');
    if (!(await waitForExit(child, graceMs))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5000);
    }
    this.child = null;
  }

  /** SIGKILL: a crash. */
  async kill() {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await waitForExit(child, 5000);
    this.child = null;
  }

  /** SIGSTOP: the process freezes; its connections stay open and silent. */
  pause() {
    this.child?.kill('SIGSTOP');
  }

  resume() {
    this.child?.kill('SIGCONT');
  }

  /** Kills (or stops) the server and starts it again on the same port and database. */
  async restart({ crash = true } = {}) {
    if (crash) await this.kill();
    else await this.stop();
    return this.start();
  }

  /** Stops the server and removes its directory. */
  async dispose() {
    await this.stop(2000);
    await rm(this.dir, { recursive: true, force: true });
  }

  // --- HTTP helpers ---

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

  async putLot(id, totalSlots = 100, name = id) {
    const r = await this.request('PUT', `/api/lots/${encodeURIComponent(id)}`, { name, totalSlots });
    if (r.status !== 200 && r.status !== 201) {
      throw new Error(`PUT /api/lots/${id} answered ${r.status}: ${r.text}`);
    }
    return r.body;
  }

  async setOccupied(parkingLotId, occupied) {
    const r = await this.request('POST', '/api/capacity/update', { parkingLotId, occupied });
    if (r.status !== 200) {
      throw new Error(`POST /api/capacity/update answered ${r.status}: ${r.text}`);
    }
    return r.body;
  }
}

/** Starts a server with a fresh database. */
export async function startServer({ extraArgs = [] } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'parkstream-js-'));
  const server = new Server({ dir, extraArgs });
  try {
    await server.start();
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return server;
}

/** A local port with nothing listening on it. */
export function unusedPort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
