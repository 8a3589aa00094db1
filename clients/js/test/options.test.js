// The options users of EventSource, reconnecting-eventsource and fetch-event-source expect:
// unlimited attempts with a capped delay, the server's `retry:` as the floor of the backoff, an
// AbortSignal that closes the client for good, and request headers (read over fetch).

import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { BIN, Server, startServer, unusedPort } from './server.js';
import { Clients, Recorder, sleep, spyEventSource, waitFor } from './helpers.js';

const clients = new Clients();
const servers = [];

async function server(options) {
  const s = await startServer(options);
  servers.push(s);
  return s;
}

afterEach(async () => {
  clients.cleanup();
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

function reconnectDelays(rec) {
  return rec.states.filter((s) => s.state === 'reconnecting').map((s) => s.info.delayMs);
}

describe('maxAttempts', () => {
  test('maxAttempts Infinity retries forever with a capped delay and connects when the server appears', async () => {
    const port = await unusedPort();
    const client = clients.create({
      url: `http://127.0.0.1:${port}/api/sse/dashboard`,
      reconnectDelay: 5,
      maxAttempts: Infinity,
      maxReconnectDelay: 40,
    });
    const rec = new Recorder(client);
    client.connect();
    // Far past the 5 attempts of the default and past where 5 * 2^(n-1) passes the cap.
    await waitFor(() => reconnectDelays(rec).length >= 25, { timeout: 15_000, message: '25 attempts' });
    assert.ok(!rec.stateNames().includes('failed'), `never failed: ${rec.stateNames().join(',')}`);
    const delays = reconnectDelays(rec);
    assert.deepEqual(delays.slice(0, 4), [5, 10, 20, 40]);
    assert.ok(delays.every((d) => d <= 40), `every delay within the cap: ${delays.join(',')}`);
    assert.equal(rec.errors.length, 0);

    // The server comes up on that port: the next attempt connects.
    const dir = await mkdtemp(path.join(tmpdir(), 'parkstream-js-'));
    const s = new Server({ dir, extraArgs: [] });
    s.port = port;
    servers.push(s);
    await s.start();
    await waitFor(() => client.state === 'connected', { timeout: 5000, message: 'connected' });
  });

  test('maxAttempts is the short name of maxReconnectAttempts', async () => {
    const port = await unusedPort();
    const client = clients.create({ url: `http://127.0.0.1:${port}/x`, reconnectDelay: 5, maxAttempts: 2 });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'failed', { message: 'failed' });
    assert.equal(rec.errors[0].error.attempts, 2);
  });
});

describe('server retry', () => {
  test('the server retry field is the floor of the reconnection delay', async () => {
    const s = await server();
    // `headers` selects the fetch transport, which reads `retry:` (parkstream sends 2000).
    const client = clients.create({ url: s.sseUrl, headers: {}, reconnectDelay: 10, maxAttempts: 3 });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });
    await s.restart();
    await waitFor(() => client.state === 'reconnecting', { message: 'reconnecting' });
    const [delay] = reconnectDelays(rec);
    assert.equal(delay, 2000, 'not the 10 ms asked for: the server asked for 2000');
    await waitFor(() => client.state === 'connected', { timeout: 5000, message: 'connected again' });
  });
});

describe('signal', () => {
  test('aborting the signal closes the stream and the client for good', async () => {
    const s = await server();
    const controller = new AbortController();
    const Spy = spyEventSource();
    const client = clients.create({ url: s.sseUrl, signal: controller.signal, EventSource: Spy });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });

    controller.abort();
    assert.equal(client.state, 'disconnected');
    assert.equal(Spy.instances[0].readyState, 2, 'the EventSource is closed');
    client.connect();
    assert.equal(client.state, 'disconnected', 'connect() after abort does nothing');
    await s.putLot('lot_1', 10);
    await sleep(300);
    assert.equal(Spy.instances.length, 1, 'no new connection');
    assert.equal(rec.of('capacity_update').length, 0);
  });

  test('aborting while reconnecting cancels the pending attempt', async () => {
    const port = await unusedPort();
    const controller = new AbortController();
    const client = clients.create({
      url: `http://127.0.0.1:${port}/api/sse/dashboard`,
      signal: controller.signal,
      reconnectDelay: 200,
      maxAttempts: Infinity,
    });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'reconnecting', { message: 'reconnecting' });
    controller.abort();
    await sleep(500);
    assert.equal(client.state, 'disconnected');
    assert.equal(rec.stateNames().filter((n) => n === 'connecting').length, 1, 'no attempt after the abort');
  });

  test('a signal aborted before connect keeps the client closed', async () => {
    const s = await server();
    const Spy = spyEventSource();
    const client = clients.create({ url: s.sseUrl, signal: AbortSignal.abort(), EventSource: Spy });
    client.connect();
    assert.equal(client.state, 'disconnected');
    assert.equal(Spy.instances.length, 0);
  });
});

describe('headers', () => {
  const secret = 'a-test-secret-of-enough-length';

  async function mint(role) {
    const { stdout } = await promisify(execFile)(BIN, ['token', '--role', role, '--jwt-secret', secret]);
    return stdout.trim();
  }

  test('headers send the token in Authorization and never in the URL', async () => {
    const s = await server({ extraArgs: ['--auth', 'jwt', '--jwt-secret', secret] });
    const token = await mint('viewer');
    const urls = [];
    const fetchSpy = (url, init) => {
      urls.push(String(url));
      return fetch(url, init);
    };
    const client = clients.create({
      url: s.sseUrl,
      headers: { Authorization: `Bearer ${token}` },
      fetch: fetchSpy,
      maxAttempts: 0,
    });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });
    assert.ok(!urls[0].includes(token) && !urls[0].includes('access_token'), urls[0]);

    // Events arrive, parsed from the fetched stream, with their ids.
    const admin = await mint('admin');
    const put = await fetch(`${s.base}/api/lots/lot_h`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'H', totalSlots: 10 }),
    });
    assert.equal(put.status, 201);
    await waitFor(() => rec.of('capacity_update').length === 1, { message: 'the lot announced' });
    const [update] = rec.of('capacity_update');
    assert.equal(update.data.parkingLotId, 'lot_h');
    assert.match(update.meta.id, /.+/);
    assert.equal(client.lastEventId, update.meta.id);
    await rec.pings(1);
  });

  test('accessToken goes as a bearer header with the fetch transport', async () => {
    const s = await server({ extraArgs: ['--auth', 'jwt', '--jwt-secret', secret] });
    const token = await mint('viewer');
    const seen = [];
    const client = clients.create({
      url: s.sseUrl,
      headers: {},
      accessToken: token,
      fetch: (url, init) => {
        seen.push({ url: String(url), authorization: init.headers.authorization });
        return fetch(url, init);
      },
    });
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });
    assert.equal(seen[0].authorization, `Bearer ${token}`);
    assert.ok(!seen[0].url.includes(token));
  });

  test('a refused request fails with its HTTP status', async () => {
    const s = await server({ extraArgs: ['--auth', 'jwt', '--jwt-secret', secret] });
    const client = clients.create({ url: s.sseUrl, headers: { Authorization: 'Bearer not-a-token' }, maxAttempts: 0 });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'failed', { message: 'failed' });
    assert.equal(rec.errors[0].error.status, 401);
  });

  test('the fetch transport resumes after a restart with no loss', async () => {
    const s = await server();
    await s.putLot('lot_1', 100);
    const client = clients.create({ url: s.sseUrl, lots: ['lot_1'], headers: { 'x-request-id': 'r1' }, maxAttempts: 5 });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });
    await s.setOccupied('lot_1', 1);
    await waitFor(() => rec.occupied().includes(1), { message: 'update 1' });
    await s.kill();
    await waitFor(() => client.state === 'reconnecting', { message: 'reconnecting' });
    await s.start();
    await s.setOccupied('lot_1', 2);
    await s.setOccupied('lot_1', 3);
    await waitFor(() => rec.occupied().includes(3), { timeout: 8000, message: 'updates after the restart' });
    assert.deepEqual(rec.occupied(), [1, 2, 3]);
  });
});

test('a fetch that throws at once counts as a failed attempt', async () => {
  const client = clients.create({
    url: 'http://127.0.0.1:1/api/sse/dashboard',
    headers: {},
    maxAttempts: 1,
    reconnectDelay: 5,
    fetch: () => {
      throw new TypeError('refused by the test');
    },
  });
  const rec = new Recorder(client);
  client.connect();
  await waitFor(() => client.state === 'failed', { timeout: 2000, message: 'failed' });
  assert.match(rec.errors[0].error.message, /refused by the test/);
});
