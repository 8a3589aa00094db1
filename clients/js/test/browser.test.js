// The client in a real browser (headless Chromium: its native EventSource, and its fetch when
// headers are given) against the real server. Skipped when no Chromium is installed
// ($PARKSTREAM_CHROMIUM, else /usr/bin/chromium), except in CI (CI=true), where a missing
// Chromium fails the run.
//
// A small Node server stands in for parkstream's static files: it serves the module at
// /client/sse-client.js (and the lib/ files it imports) and a test page, forwards /api/* to
// parkstream (so the page's default url, /api/sse/dashboard on its own origin, reaches it), and
// collects what the page reports.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startServer } from './server.js';
import { waitFor } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.PARKSTREAM_CHROMIUM || '/usr/bin/chromium';

function chromiumAvailable() {
  try {
    accessSync(CHROMIUM, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>sse-client browser test</title>
<script type="module">
  // Reports travel as concurrent requests and may arrive in any order: number them here.
  let seq = 0;
  const report = (entry) => fetch('/report', { method: 'POST', body: JSON.stringify({ ...entry, seq: seq++ }) });
  try {
    const { createSSEClient } = await import('/client/sse-client.js');
    const main = createSSEClient({ lots: ['lot_1'], reconnectDelay: 100, maxReconnectAttempts: 30, jitter: 0 });
    for (const type of ['connected', 'capacity_update', 'reset', 'ping']) {
      main.on(type, (data, meta) => report({ client: 'main', type, data, meta, lastEventId: main.lastEventId }));
    }
    main.onStateChange((state, info) => report({ client: 'main', type: 'state', state, info }));
    main.onError((error, context) => report({ client: 'main', type: 'error', message: String(error?.message ?? error), context }));
    main.connect();

    // With headers: the fetch transport, reading the stream through a ReadableStream.
    const viaFetch = createSSEClient({ lots: ['lot_1'], headers: { 'x-client': 'browser-test' }, maxAttempts: 30, jitter: 0 });
    for (const type of ['connected', 'capacity_update', 'reset']) {
      viaFetch.on(type, (data, meta) => report({ client: 'fetch', type, data, meta }));
    }
    viaFetch.onError((error, context) => report({ client: 'fetch', type: 'error', message: String(error?.message ?? error), context }));
    viaFetch.connect();

    const bogus = createSSEClient({ lastEventId: 'bogus', types: ['alert'] });
    bogus.onReset((data, meta) => report({ client: 'bogus', type: 'reset', data, meta }));
    bogus.connect();
  } catch (error) {
    report({ type: 'page-error', message: String(error?.stack ?? error) });
  }
</script>`;

async function startFrontServer(parkstream) {
  // The module and the files it imports, at the paths parkstream serves them under.
  const modules = new Map();
  for (const file of ['sse-client.js', 'lib/client.js', 'lib/fetch-transport.js', 'lib/options.js']) {
    modules.set(`/client/${file}`, await readFile(path.join(here, '..', file)));
  }
  const reports = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && modules.has(req.url)) {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(modules.get(req.url));
    } else if (req.method === 'GET' && req.url === '/page.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else if (req.method === 'POST' && req.url === '/report') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        try {
          reports.push({ ...JSON.parse(body), at: Date.now() });
        } catch {
          reports.push({ type: 'bad-report', body });
        }
        res.writeHead(204);
        res.end();
      });
    } else if (req.url.startsWith('/api/')) {
      const upstream = http.request(
        { host: '127.0.0.1', port: parkstream.port, path: req.url, method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode, up.headers);
          up.pipe(res);
          up.on('error', () => res.destroy());
          up.on('aborted', () => res.destroy());
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end('{"error":{"code":"bad_gateway","message":"parkstream is down"}}');
        } else {
          res.destroy();
        }
      });
      res.on('close', () => upstream.destroy());
      req.pipe(upstream);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, reports, base: `http://127.0.0.1:${server.address().port}` };
}

function startChromium(url, userDataDir) {
  const child = spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-extensions',
      '--disable-breakpad',
      '--disable-crash-reporter',
      `--user-data-dir=${userDataDir}`,
      url,
    ],
    { stdio: 'ignore', detached: true },
  );
  const killGroup = () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  };
  process.on('exit', killGroup);
  return { child, kill: killGroup };
}

const skip = chromiumAvailable() || process.env.CI === 'true' ? false : `no Chromium at ${CHROMIUM}`;

describe('in headless Chromium', { skip }, () => {
  let parkstream;
  let front;
  let chromium;
  let userDataDir;

  before(async () => {
    parkstream = await startServer();
    await parkstream.putLot('lot_1', 100);
    front = await startFrontServer(parkstream);
    userDataDir = await mkdtemp(path.join(tmpdir(), 'parkstream-chromium-'));
    chromium = startChromium(`${front.base}/page.html`, userDataDir);
  });

  after(async () => {
    chromium?.kill();
    front?.server.closeAllConnections();
    front?.server.close();
    await parkstream?.dispose();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  // In the order the page saw them, not the order their reports arrived.
  const main = (type) =>
    front.reports.filter((r) => r.client === 'main' && r.type === type).sort((a, b) => a.seq - b.seq);
  const occupied = () => main('capacity_update').map((r) => r.data.occupied);
  const failOnPageError = () => {
    const problem = front.reports.find((r) => r.type === 'page-error' || r.type === 'bad-report');
    if (problem) throw new Error(`the page failed: ${JSON.stringify(problem)}`);
  };

  test('native EventSource: events, reset, restart with no loss and no duplicate', async () => {
    await waitFor(
      () => {
        failOnPageError();
        return main('connected').length === 1;
      },
      { timeout: 20_000, message: 'the page to connect' },
    );

    // A bogus id gets the server's reset.
    await waitFor(() => front.reports.some((r) => r.client === 'bogus' && r.type === 'reset'), { message: 'reset' });
    const reset = front.reports.find((r) => r.client === 'bogus' && r.type === 'reset');
    assert.deepEqual(reset.data, { reason: 'history_unavailable' });

    for (const v of [1, 2, 3]) await parkstream.setOccupied('lot_1', v);
    await waitFor(() => occupied().length === 3, { message: 'events 1..3' });
    const third = main('capacity_update')[2];
    assert.equal(third.lastEventId, third.meta.id);

    // A ping after an event carries that event's id in a browser's MessageEvent.lastEventId:
    // it must neither count as an id of its own nor move the resume point.
    await waitFor(() => main('ping').some((r) => r.at > third.at), { message: 'a ping after the events' });
    const ping = main('ping').find((r) => r.at > third.at);
    assert.equal(ping.meta.id ?? null, null);
    assert.equal(ping.lastEventId, third.meta.id);

    await parkstream.restart();
    for (const v of [4, 5, 6]) await parkstream.setOccupied('lot_1', v);
    await waitFor(() => occupied().length >= 6, { timeout: 15_000, message: 'events 4..6 after the restart' });
    for (const v of [7, 8]) await parkstream.setOccupied('lot_1', v);
    await waitFor(() => occupied().length >= 8, { message: 'events 7, 8' });
    const pingsNow = main('ping').length;
    await waitFor(() => main('ping').length >= pingsNow + 2, { message: 'two more pings' });

    assert.deepEqual(occupied(), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(main('reset').length, 0);
    assert.equal(main('connected').length, 2);
    assert.equal(main('connected')[1].data.resumed, true);
    assert.ok(main('state').some((r) => r.state === 'reconnecting'));
    assert.equal(main('error').length, 0);

    // The fetch transport saw the same: no loss, no duplicate, resumed after the restart.
    const viaFetch = (type) =>
      front.reports.filter((r) => r.client === 'fetch' && r.type === type).sort((a, b) => a.seq - b.seq);
    await waitFor(() => viaFetch('capacity_update').length >= 8, { timeout: 10_000, message: 'the fetch client to get 1..8' });
    assert.deepEqual(viaFetch('capacity_update').map((r) => r.data.occupied), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(viaFetch('connected').length, 2);
    assert.equal(viaFetch('connected')[1].data.resumed, true);
    assert.equal(viaFetch('reset').length, 0);
    assert.equal(viaFetch('error').length, 0);
  });
});
