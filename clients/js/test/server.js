// Starts, stops and restarts the real parkstream binary for the JavaScript tests: the browser
// client's (clients/js/test) and the dashboard's (web/e2e, which imports this file by its
// relative path). Node built-ins only, so either package can use it without installing
// anything for it.
//
// The binary is $PARKSTREAM_BIN, else target/debug/parkstream of this repository. Every
// server started here is killed, and every temporary directory made here removed, when the
// test process exits, also on failure or interruption.

import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants, rmSync } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.PARKSTREAM_BIN
  ? path.resolve(process.env.PARKSTREAM_BIN)
  : path.resolve(here, '../../../target/debug/parkstream');

// --- last-resort cleanup -----------------------------------------------------------------------

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

/** A fresh directory in the temp folder, removed at exit if nothing removed it before. */
export async function makeTempDir(prefix = 'parkstream-test-') {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export async function removeTempDir(dir) {
  await rm(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

// --- the process -------------------------------------------------------------------------------

/** Waits for the binary: it may be being rebuilt under us. */
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

function spawnOnce(bind, databaseUrl, extraArgs) {
  return new Promise((resolve, reject) => {
    const args = [
      'serve',
      '--bind', bind,
      '--database-url', databaseUrl,
      '--log-format', 'json',
      '--ping-interval', '1s',
      // These tests are about the stream and the page; access control is tested on the
      // server (a test that sends a token passes its own --auth).
      ...(extraArgs.includes('--auth') ? [] : ['--auth', 'none']),
      ...extraArgs,
    ];
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

/** The real server, on 127.0.0.1, with its own SQLite database in `dir`. */
export class Server {
  constructor({ dir, extraArgs = [] }) {
    this.dir = dir;
    this.extraArgs = extraArgs;
    this.databaseUrl = `sqlite://${path.join(dir, 'p.db')}`;
    this.child = null;
    this.port = null;
    this.log = [];
    /** A token the HTTP helpers below send (as `Authorization: Bearer`), for `--auth jwt`. */
    this.token = null;
  }

  /** Starts a server with a fresh database in a temporary directory. */
  static async start({ extraArgs = [] } = {}) {
    const server = new Server({ dir: await makeTempDir(), extraArgs });
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

  get sseUrl() {
    return `${this.base}/api/sse/dashboard`;
  }

  get running() {
    return this.child !== null;
  }

  /** Starts on a free port the first time (or `port`, when set), on the same port after that. */
  async start() {
    await waitForBinary();
    const bind = this.port === null ? '127.0.0.1:0' : `127.0.0.1:${this.port}`;
    let lastError;
    // The port of a server that just stopped can take a moment to be free again.
    for (let i = 0; i < 40; i += 1) {
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

  /**
   * SIGTERM (a graceful stop). A server that has not exited after `graceMs` is killed and
   * the stop fails: a graceful stop that needs SIGKILL is a bug.
   */
  async stop(graceMs = 10_000) {
    const child = this.child;
    if (!child) return;
    try {
      child.kill('SIGCONT'); // a paused server cannot act on SIGTERM
    } catch {
      // not stopped
    }
    child.kill('SIGTERM');
    if (!(await waitForExit(child, graceMs))) {
      child.kill('SIGKILL');
      await waitForExit(child, 5000);
      this.child = null;
      throw new Error(`parkstream did not exit within ${graceMs} ms of SIGTERM`);
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

  /** Stops the server (if running) and removes its directory. */
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

  // --- HTTP ---

  /** One request; a JSON body is sent as JSON. Returns status, headers, parsed body, text. */
  async request(method, urlPath, body) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const response = await fetch(this.base + urlPath, {
      method,
      headers,
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

  putLot(id, totalSlots = 100, name = id) {
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

/** Starts a server with a fresh database (the same as `Server.start`). */
export function startServer(options) {
  return Server.start(options);
}

/** A token for `role` that a server started with `--jwt-secret secret` accepts. */
export async function mintToken(role, secret) {
  await waitForBinary();
  const { stdout } = await promisify(execFile)(BIN, ['token', '--role', role, '--jwt-secret', secret]);
  return stdout.trim();
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
