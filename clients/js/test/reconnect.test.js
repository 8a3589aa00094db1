// Reconnection: server restarts, the backoff schedule, giving up, heartbeats.

import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';

import { startServer, unusedPort } from './server.js';
import { Clients, Recorder, sleep, spyEventSource, waitFor } from './helpers.js';

const clients = new Clients();
const servers = [];

async function server() {
  const s = await startServer();
  servers.push(s);
  return s;
}

afterEach(async () => {
  clients.cleanup();
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

function range(from, to) {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

async function publish(s, lot, values) {
  for (const v of values) await s.setOccupied(lot, v);
}

/**
 * The real EventSource, except that while `blocked` it is pointed at a port where nothing
 * listens: the client's attempts fail as against a server that is down, and the test decides
 * when the next one reaches the server.
 */
function gatedEventSource(deadPort) {
  class Gated extends EventSource {
    static blocked = false;
    static urls = [];

    constructor(url, init) {
      Gated.urls.push(String(url));
      const target = new URL(url);
      if (Gated.blocked) target.port = String(deadPort);
      super(target, init);
    }
  }
  return Gated;
}

describe('server restart', () => {
  test('SIGKILL and restart: the client resumes with no loss and no duplicate', async () => {
    const s = await server();
    await s.putLot('lot_1', 100);
    const Gated = gatedEventSource(await unusedPort());
    const client = clients.create({
      url: s.sseUrl,
      lots: ['lot_1'],
      reconnectDelay: 50,
      maxReconnectAttempts: 10,
      EventSource: Gated,
    });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });

    await publish(s, 'lot_1', range(1, 5));
    await waitFor(() => rec.occupied().length === 5, { message: 'events 1..5' });
    const resumeId = client.lastEventId;
    assert.equal(resumeId, rec.of('capacity_update')[4].meta.id);

    // Crash. The client's attempts fail until the server is back and 6..10 are published, so
    // 6..10 can only reach it through the replay after its lastEventId.
    Gated.blocked = true;
    await s.kill();
    await waitFor(() => client.state === 'reconnecting', { message: 'reconnecting' });
    await s.start();
    await publish(s, 'lot_1', range(6, 10));
    await waitFor(() => Gated.urls.length >= 2, { message: 'an attempt against the down server' });
    Gated.blocked = false;

    await waitFor(() => rec.occupied().length >= 10, { timeout: 10_000, message: 'the replay of 6..10' });
    await publish(s, 'lot_1', range(11, 15));
    await waitFor(() => rec.occupied().length >= 15, { message: 'live events 11..15' });
    await rec.pings(2);

    assert.deepEqual(rec.occupied(), range(1, 15));
    const ids = rec.of('capacity_update').map((e) => e.meta.id);
    assert.equal(new Set(ids).size, 15, 'every event has its own id');
    assert.ok(ids.every((id, i) => i === 0 || BigInt(id) > BigInt(ids[i - 1])), 'ids increase');
    const connected = rec.of('connected');
    assert.equal(connected.length, 2);
    assert.equal(connected[1].data.resumed, true);
    assert.equal(rec.of('reset').length, 0);
    // Every reconnection asked for what followed event 5.
    for (const url of Gated.urls.slice(1)) {
      assert.equal(new URL(url).searchParams.get('lastEventId'), resumeId, url);
    }
    assert.equal(client.state, 'connected');
  });

  test('graceful restart (SIGTERM): the client reconnects and resumes', async () => {
    const s = await server();
    await s.putLot('lot_1', 100);
    const client = clients.create({ url: s.sseUrl, reconnectDelay: 50, maxReconnectAttempts: 10 });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });
    await publish(s, 'lot_1', [1, 2]);
    await waitFor(() => rec.occupied().length === 2, { message: 'events 1, 2' });

    await s.restart({ crash: false });
    await publish(s, 'lot_1', [3, 4]);
    await waitFor(() => rec.occupied().length >= 4, { timeout: 10_000, message: 'events 3, 4' });
    await rec.pings(1);
    assert.deepEqual(rec.occupied(), [1, 2, 3, 4]);
    assert.equal(rec.of('reset').length, 0);
    assert.ok(rec.stateNames().includes('reconnecting'));
  });

  test('reconnecting without any id to resume from surfaces a reset', async () => {
    // No lot and no event: the client has no resume point when the server goes away.
    const s = await server();
    const client = clients.create({ url: s.sseUrl, reconnectDelay: 50, maxReconnectAttempts: 10 });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });
    assert.equal(client.lastEventId, null);
    assert.equal(rec.of('reset').length, 0);

    await s.restart();
    await waitFor(() => rec.of('reset').length === 1, { timeout: 10_000, message: 'reset' });
    const [reset] = rec.of('reset');
    assert.deepEqual(reset.data, { reason: 'no_resume_point' });
    assert.equal(reset.meta.synthetic, true);
    assert.equal(rec.of('connected').length, 2);
  });
});

describe('backoff', () => {
  test('delays follow base * 2^(n-1), then failed and onError once', async () => {
    const port = await unusedPort();
    const Spy = spyEventSource();
    const client = clients.create({
      url: `http://127.0.0.1:${port}/api/sse/dashboard`,
      reconnectDelay: 50,
      maxReconnectAttempts: 5,
      jitter: 0,
      EventSource: Spy,
    });
    const rec = new Recorder(client);
    const started = Date.now();
    client.connect();
    await waitFor(() => client.state === 'failed', { message: 'failed' });

    const reconnecting = rec.states.filter((s) => s.state === 'reconnecting');
    assert.deepEqual(reconnecting.map((s) => s.info.delayMs), [50, 100, 200, 400, 800]);
    assert.deepEqual(reconnecting.map((s) => s.info.attempt), [1, 2, 3, 4, 5]);
    for (const s of reconnecting) {
      assert.ok(Math.abs(s.info.retryAt - (s.at + s.info.delayMs)) <= 20, 'retryAt is when the attempt happens');
    }
    // Each attempt waited its delay.
    const connecting = rec.states.filter((s) => s.state === 'connecting');
    assert.equal(connecting.length, 6, 'the first connection and 5 attempts');
    for (let i = 0; i < 5; i += 1) {
      const waited = connecting[i + 1].at - reconnecting[i].at;
      assert.ok(waited >= reconnecting[i].info.delayMs - 5, `attempt ${i + 1} waited ${waited} ms`);
    }
    assert.ok(Date.now() - started >= 1550 - 20);
    assert.equal(Spy.instances.length, 6);

    assert.deepEqual(rec.stateNames(), [
      'connecting', 'reconnecting', 'connecting', 'reconnecting', 'connecting', 'reconnecting',
      'connecting', 'reconnecting', 'connecting', 'reconnecting', 'connecting', 'failed',
    ]);
    const failed = rec.states.at(-1);
    assert.ok(failed.info.error instanceof Error);
    assert.equal(rec.errors.length, 1);
    assert.equal(rec.errors[0].error, failed.info.error);
    assert.match(rec.errors[0].error.message, /after 5 attempts/);
    assert.equal(rec.errors[0].context.kind, 'connection');

    // Stopped for good: no timer, no further attempt.
    await sleep(300);
    assert.equal(Spy.instances.length, 6);
    assert.equal(client.state, 'failed');
  });

  test('gives up after maxReconnectAttempts; connect() starts over', async () => {
    const port = await unusedPort();
    const Spy = spyEventSource();
    const client = clients.create({
      url: `http://127.0.0.1:${port}/api/sse/dashboard`,
      reconnectDelay: 10,
      maxReconnectAttempts: 3,
      EventSource: Spy,
    });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'failed', { message: 'failed' });
    assert.equal(Spy.instances.length, 4);
    assert.equal(rec.errors.length, 1);
    assert.match(rec.errors[0].error.message, /could not reconnect .* after 3 attempts/);
    assert.doesNotMatch(rec.errors[0].error.message, /access_token/);

    client.connect();
    await waitFor(() => rec.errors.length === 2, { message: 'the second failure' });
    assert.equal(Spy.instances.length, 8);
    assert.equal(client.state, 'failed');
    assert.deepEqual(
      rec.states.filter((s) => s.state === 'reconnecting').map((s) => s.info.delayMs),
      [10, 20, 40, 10, 20, 40],
    );
  });

  test('maxReconnectAttempts 0 fails at the first error', async () => {
    const port = await unusedPort();
    const client = clients.create({ url: `http://127.0.0.1:${port}/`, maxReconnectAttempts: 0 });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'failed', { message: 'failed' });
    assert.deepEqual(rec.stateNames(), ['connecting', 'failed']);
    assert.equal(rec.errors.length, 1);
  });

  test('jitter keeps each delay within [1-j, 1+j] of the schedule', async () => {
    const port = await unusedPort();
    const client = clients.create({
      url: `http://127.0.0.1:${port}/`,
      reconnectDelay: 20,
      maxReconnectAttempts: 6,
      jitter: 0.5,
    });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'failed', { timeout: 8000, message: 'failed' });
    const delays = rec.states.filter((s) => s.state === 'reconnecting').map((s) => s.info.delayMs);
    assert.equal(delays.length, 6);
    delays.forEach((d, i) => {
      const nominal = 20 * 2 ** i;
      assert.ok(d >= Math.floor(nominal * 0.5) && d <= Math.ceil(nominal * 1.5), `delay ${i + 1}: ${d} ms`);
    });
  });

  test('the attempt counter resets after a good connection', async () => {
    const s = await server();
    const client = clients.create({ url: s.sseUrl, reconnectDelay: 100, maxReconnectAttempts: 10 });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });

    await s.kill();
    await waitFor(
      () => rec.states.some((st) => st.state === 'reconnecting' && st.info.attempt === 2),
      { message: 'two failed attempts' },
    );
    await s.start();
    await waitFor(() => rec.of('connected').length === 2, { timeout: 10_000, message: 'reconnected' });

    const mark = rec.states.length;
    await s.kill();
    await waitFor(() => rec.states.length > mark && client.state === 'reconnecting', { message: 'reconnecting' });
    const first = rec.states.slice(mark).find((st) => st.state === 'reconnecting');
    assert.equal(first.info.attempt, 1);
    assert.equal(first.info.delayMs, 100);
  });

  test('disconnect() while reconnecting cancels the pending attempt', async () => {
    const port = await unusedPort();
    const Spy = spyEventSource();
    const client = clients.create({
      url: `http://127.0.0.1:${port}/`,
      reconnectDelay: 100,
      EventSource: Spy,
    });
    client.connect();
    await waitFor(() => client.state === 'reconnecting', { message: 'reconnecting' });
    client.disconnect();
    assert.equal(client.state, 'disconnected');
    await sleep(400);
    assert.equal(Spy.instances.length, 1);
    assert.equal(client.state, 'disconnected');
  });
});

describe('heartbeat', () => {
  test('a silent connection (frozen server) is replaced after heartbeatTimeout', async () => {
    const s = await server();
    await s.putLot('lot_1', 10);
    const client = clients.create({
      url: s.sseUrl,
      lots: ['lot_1'],
      reconnectDelay: 100,
      maxReconnectAttempts: 20,
      heartbeatTimeout: 2000, // the test server pings every second
    });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });
    await s.setOccupied('lot_1', 1);
    await waitFor(() => rec.occupied().length === 1, { message: 'first update' });

    s.pause();
    try {
      await waitFor(() => client.state === 'reconnecting', { timeout: 4000, message: 'the stall to be noticed' });
      // Connecting to the frozen server hangs too: that attempt times out as well.
      await waitFor(
        () => rec.states.some((st) => st.state === 'reconnecting' && st.info.attempt === 2),
        { timeout: 4000, message: 'a hung attempt to time out' },
      );
    } finally {
      s.resume();
    }
    await waitFor(() => rec.of('connected').length === 2, { timeout: 8000, message: 'reconnected' });
    await s.setOccupied('lot_1', 2);
    await waitFor(() => rec.occupied().length === 2, { message: 'second update' });
    assert.deepEqual(rec.occupied(), [1, 2]);
  });
});
