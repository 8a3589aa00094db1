// The client against one running server: events, filters, callbacks, state, reset.

import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventSource } from 'eventsource';

import { createSSEClient, SSEClient, EVENT_TYPES } from '../sse-client.js';
import { startServer } from './server.js';
import { Clients, Recorder, spyEventSource, waitFor } from './helpers.js';

describe('sse-client against a running server', () => {
  let server;
  const clients = new Clients();

  before(async () => {
    server = await startServer();
    await server.putLot('lot_1', 100, 'North');
    await server.putLot('lot_2', 50, 'South');
  });

  afterEach(() => clients.cleanup());

  after(async () => {
    clients.cleanup();
    await server?.dispose();
  });

  test('receives connected, then capacity_update with the documented shape and its id', async () => {
    const client = clients.create({ url: server.sseUrl });
    assert.ok(client instanceof SSEClient);
    assert.equal(client.state, 'idle');
    const rec = new Recorder(client);
    client.connect();
    assert.equal(client.state, 'connecting');

    await waitFor(() => rec.of('connected').length === 1, { message: 'connected' });
    const [connected] = rec.of('connected');
    assert.equal(client.state, 'connected');
    assert.match(connected.data.clientId, /\S/);
    assert.equal(client.clientId, connected.data.clientId);
    assert.equal(connected.data.resumed, false);
    assert.ok(!Number.isNaN(Date.parse(connected.data.serverTime)));
    assert.deepEqual(connected.meta, { type: 'connected', id: undefined });
    assert.equal(client.lastEventId, null);

    const published = await server.setOccupied('lot_1', 75);
    await waitFor(() => rec.of('capacity_update').length === 1, { message: 'capacity_update' });
    const [update] = rec.of('capacity_update');
    assert.deepEqual(update.data, published);
    assert.equal(update.data.parkingLotId, 'lot_1');
    assert.equal(update.data.totalSlots, 100);
    assert.equal(update.data.occupied, 75);
    assert.equal(update.data.empty, 25);
    assert.equal(update.data.occupancyRate, 0.75);
    assert.match(update.data.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(update.meta.type, 'capacity_update');
    assert.match(update.meta.id, /\S/);
    assert.equal(client.lastEventId, update.meta.id);
    assert.deepEqual(rec.stateNames(), ['connecting', 'connected']);
    assert.deepEqual(rec.errors, []);
  });

  test('onPing receives pings, which do not move lastEventId', async () => {
    const client = clients.create({ url: server.sseUrl });
    const pings = [];
    client.onPing((data, meta) => pings.push({ data, meta }));
    client.connect();
    await waitFor(() => pings.length >= 1, { timeout: 4000, message: 'a ping' });
    assert.ok(!Number.isNaN(Date.parse(pings[0].data.timestamp)));
    assert.equal(pings[0].meta.id, undefined);
    assert.equal(client.lastEventId, null);
  });

  test('lots= filter: only events about those lots', async () => {
    const Spy = spyEventSource();
    const filtered = clients.create({ url: server.sseUrl, lots: ['lot_2'], EventSource: Spy });
    const rec = new Recorder(filtered);
    filtered.connect();
    await waitFor(() => filtered.state === 'connected', { message: 'connected' });
    assert.match(Spy.urls[0], /[?&]lots=lot_2(&|$)/);

    await server.setOccupied('lot_1', 11);
    await server.setOccupied('lot_2', 22);
    await server.setOccupied('lot_1', 12);
    await server.setOccupied('lot_2', 23);
    await waitFor(() => rec.occupied().length >= 2, { message: 'the lot_2 updates' });
    await rec.pings(2);
    assert.deepEqual(rec.occupied(), [22, 23]);
    assert.ok(rec.of('capacity_update').every((e) => e.data.parkingLotId === 'lot_2'));
  });

  test('types= filter: only those types; connected and ping still arrive', async () => {
    const Spy = spyEventSource();
    const alertsOnly = clients.create({ url: server.sseUrl, types: ['alert', 'violation'], EventSource: Spy });
    const updatesOnly = clients.create({ url: server.sseUrl, types: ['capacity_update'], lots: ['lot_1', 'lot_2'] });
    const recAlerts = new Recorder(alertsOnly);
    const recUpdates = new Recorder(updatesOnly);
    alertsOnly.connect();
    updatesOnly.connect();
    await waitFor(() => alertsOnly.state === 'connected' && updatesOnly.state === 'connected', {
      message: 'both connected',
    });
    assert.match(Spy.urls[0], /[?&]types=alert,violation(&|$)/);

    await server.setOccupied('lot_1', 31);
    await server.setOccupied('lot_2', 32);
    await waitFor(() => recUpdates.occupied().length === 2, { message: 'updates on the unfiltered client' });
    assert.deepEqual(recUpdates.occupied(), [31, 32]);
    await recAlerts.pings(2);
    assert.equal(recAlerts.of('capacity_update').length, 0);
    assert.equal(recAlerts.of('connected').length, 1);
  });

  test('an unknown type in types= is refused by the server: the client ends failed', async () => {
    const client = clients.create({
      url: server.sseUrl,
      types: ['no_such_type'],
      reconnectDelay: 10,
      maxReconnectAttempts: 2,
    });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'failed', { message: 'failed' });
    assert.equal(rec.errors.length, 1);
    assert.equal(rec.errors[0].error.cause?.status, 400);
    assert.equal(rec.errors[0].error.status, 400);
    assert.match(rec.errors[0].error.message, /400/);
  });

  test('off() and the returned unsubscribe function stop delivery', async () => {
    const client = clients.create({ url: server.sseUrl, lots: ['lot_1'] });
    const a = [];
    const b = [];
    const c = [];
    const cbA = (data) => a.push(data.occupied);
    client.onCapacityUpdate(cbA);
    const unsubscribeB = client.on('capacity_update', (data) => b.push(data.occupied));
    client.onCapacityUpdate((data) => c.push(data.occupied));
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });

    await server.setOccupied('lot_1', 41);
    await waitFor(() => c.length === 1, { message: 'first update' });
    client.off('capacity_update', cbA);
    unsubscribeB();
    await server.setOccupied('lot_1', 42);
    await waitFor(() => c.length === 2, { message: 'second update' });
    assert.deepEqual(a, [41]);
    assert.deepEqual(b, [41]);
    assert.deepEqual(c, [41, 42]);
  });

  test('a throwing callback breaks neither other callbacks nor the connection', async () => {
    const client = clients.create({ url: server.sseUrl, lots: ['lot_1'] });
    const rec = new Recorder(client);
    const boom = new Error('boom');
    client.onCapacityUpdate(() => {
      throw boom;
    });
    const after = [];
    client.onCapacityUpdate((data) => after.push(data.occupied));
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });

    await server.setOccupied('lot_1', 51);
    await server.setOccupied('lot_1', 52);
    await waitFor(() => after.length === 2, { message: 'both updates' });
    assert.deepEqual(after, [51, 52]);
    assert.equal(client.state, 'connected');
    assert.equal(rec.errors.length, 2);
    assert.equal(rec.errors[0].error, boom);
    assert.equal(rec.errors[0].context.kind, 'callback');
    assert.equal(rec.errors[0].context.type, 'capacity_update');
    assert.equal(rec.stateNames().filter((s) => s === 'connecting').length, 1, 'no reconnection');
  });

  test('on() accepts any event name, including ones the client does not know', async () => {
    const Spy = spyEventSource();
    const client = clients.create({ url: server.sseUrl, EventSource: Spy });
    const rec = new Recorder(client);
    const early = [];
    client.on('future_event', (data) => early.push(data));
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });
    const late = [];
    const off = client.on('another_future_event', (data) => late.push(data));
    assert.ok(Spy.listened.includes('future_event'));
    assert.ok(Spy.listened.includes('another_future_event'), 'listener added to the open EventSource');
    for (const type of EVENT_TYPES) assert.ok(Spy.listened.includes(type), type);

    // Such an event arrives like any other; data that is not JSON is reported, never thrown.
    const es = Spy.instances[0];
    es.dispatchEvent(new MessageEvent('another_future_event', { data: '{"x":1}', lastEventId: '' }));
    es.dispatchEvent(new MessageEvent('another_future_event', { data: 'not json', lastEventId: '' }));
    assert.deepEqual(late, [{ x: 1 }]);
    assert.equal(rec.errors.length, 1);
    assert.equal(rec.errors[0].context.kind, 'parse');
    off();
    es.dispatchEvent(new MessageEvent('another_future_event', { data: '{"x":2}', lastEventId: '' }));
    assert.deepEqual(late, [{ x: 1 }]);
    assert.equal(client.state, 'connected');
  });

  test('disconnect() then connect() resumes from the last id with no loss and no duplicate', async () => {
    const Spy = spyEventSource();
    const client = clients.create({ url: server.sseUrl, lots: ['lot_1'], EventSource: Spy });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });
    await server.setOccupied('lot_1', 61);
    await waitFor(() => rec.occupied().length === 1, { message: 'first update' });
    const idBefore = client.lastEventId;

    client.disconnect();
    assert.equal(client.state, 'disconnected');
    await server.setOccupied('lot_1', 62);
    await server.setOccupied('lot_1', 63);
    client.connect();
    await waitFor(() => rec.occupied().length === 3, { message: 'the missed updates' });
    await server.setOccupied('lot_1', 64);
    await waitFor(() => rec.occupied().length === 4, { message: 'the live update' });
    await rec.pings(1);

    assert.deepEqual(rec.occupied(), [61, 62, 63, 64]);
    assert.equal(new URL(Spy.urls[1]).searchParams.get('lastEventId'), idBefore);
    const connected = rec.of('connected');
    assert.equal(connected.length, 2);
    assert.equal(connected[1].data.resumed, true);
    assert.deepEqual(rec.stateNames(), ['connecting', 'connected', 'disconnected', 'connecting', 'connected']);
    assert.equal(rec.of('reset').length, 0);
  });

  test('a bogus lastEventId gets reset; the stream goes on', async () => {
    const client = clients.create({ url: server.sseUrl, lots: ['lot_2'], lastEventId: 'bogus' });
    const rec = new Recorder(client);
    const resets = [];
    client.onReset((data, meta) => resets.push({ data, meta }));
    client.connect();
    await waitFor(() => resets.length === 1, { message: 'reset' });
    assert.deepEqual(resets[0].data, { reason: 'history_unavailable' });
    assert.deepEqual(resets[0].meta, { type: 'reset', id: undefined });
    assert.equal(rec.of('connected')[0].data.resumed, false);
    assert.equal(client.lastEventId, null, 'the unusable id is dropped');

    await server.setOccupied('lot_2', 7);
    await waitFor(() => rec.occupied().length === 1, { message: 'an update after reset' });
    assert.equal(client.state, 'connected');
    assert.deepEqual(rec.occupied(), [7]);
    assert.equal(client.lastEventId, rec.of('capacity_update')[0].meta.id);
  });

  test('an id newer than the newest gets reset too', async () => {
    const { headers } = await server.request('GET', '/api/lots');
    const newest = headers.get('last-event-id');
    assert.match(newest, /^\d+$/);
    const client = clients.create({ url: server.sseUrl, lastEventId: (BigInt(newest) + 1000n).toString() });
    const resets = [];
    client.onReset((data) => resets.push(data));
    client.connect();
    await waitFor(() => resets.length === 1, { message: 'reset' });
    assert.equal(resets[0].reason, 'history_unavailable');
  });

  test('snapshot then subscribe from its Last-Event-ID: exactly the later events', async () => {
    await server.setOccupied('lot_2', 1);
    const snapshot = await server.request('GET', '/api/lots');
    const lot2 = snapshot.body.find((l) => l.parkingLotId === 'lot_2');
    assert.equal(lot2.occupied, 1);
    await server.setOccupied('lot_2', 2);
    const client = clients.create({
      url: server.sseUrl,
      lots: ['lot_2'],
      lastEventId: snapshot.headers.get('last-event-id'),
    });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => rec.occupied().length === 1, { message: 'the replayed update' });
    await server.setOccupied('lot_2', 3);
    await waitFor(() => rec.occupied().length === 2, { message: 'the live update' });
    await rec.pings(1);
    assert.deepEqual(rec.occupied(), [2, 3]);
    assert.equal(rec.of('connected')[0].data.resumed, true);
    assert.equal(rec.of('reset').length, 0);
  });

  test('the default url is /api/sse/dashboard on the page origin; access_token is sent', async () => {
    const Spy = spyEventSource();
    const previous = Object.getOwnPropertyDescriptor(globalThis, 'location');
    Object.defineProperty(globalThis, 'location', {
      value: new URL(`${server.base}/dashboard/index.html?x=1`),
      configurable: true,
      writable: true,
    });
    try {
      const client = clients.create({ EventSource: Spy, accessToken: 'tok en', lots: ['lot_1', 'lot_2'] });
      client.connect();
      await waitFor(() => client.state === 'connected', { message: 'connected' });
      const url = new URL(Spy.urls[0]);
      assert.equal(url.origin, server.base);
      assert.equal(url.pathname, '/api/sse/dashboard');
      assert.equal(url.searchParams.get('access_token'), 'tok en');
      assert.equal(url.searchParams.get('lots'), 'lot_1,lot_2');
      assert.ok(Spy.urls[0].includes('lots=lot_1,lot_2'));
    } finally {
      if (previous) Object.defineProperty(globalThis, 'location', previous);
      else delete globalThis.location;
    }
  });

  test('alert events: raised, then sent again with the same _id on acknowledge', async (t) => {
    const probe = await server.request('GET', '/api/alerts');
    if (probe.status === 404) return t.skip('this server has no alerts yet');
    await server.putLot('lot_a', 10);
    const client = clients.create({ url: server.sseUrl, lots: ['lot_a'], types: ['alert'] });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });

    await server.setOccupied('lot_a', 9); // 90%: capacity_warning
    await waitFor(() => rec.of('alert').length >= 1, { message: 'an alert' });
    const [raised] = rec.of('alert');
    assert.equal(raised.data.type, 'capacity_warning');
    assert.equal(raised.data.severity, 'medium');
    assert.equal(raised.data.parkingLotId, 'lot_a');
    assert.equal(raised.data.status, 'active');
    assert.equal(raised.data.contractorId, null);
    assert.equal(raised.data.acknowledgedAt, null);
    assert.equal(raised.data.resolvedAt, null);
    assert.match(raised.data._id, /\S/);
    assert.match(raised.data.message, /\S/);
    assert.ok(!Number.isNaN(Date.parse(raised.data.createdAt)));
    assert.match(raised.meta.id, /\S/);

    const ack = await server.request('POST', `/api/alerts/${encodeURIComponent(raised.data._id)}/acknowledge`);
    assert.equal(ack.status, 200, ack.text);
    await waitFor(() => rec.of('alert').some((e) => e.data.status === 'acknowledged'), { message: 'the acknowledged alert' });
    const acknowledged = rec.of('alert').find((e) => e.data.status === 'acknowledged');
    assert.equal(acknowledged.data._id, raised.data._id);
    assert.ok(!Number.isNaN(Date.parse(acknowledged.data.acknowledgedAt)));
    assert.equal(rec.of('capacity_update').length, 0, 'types=alert holds back capacity updates');
  });

  test('violation events: a contractor above its allocation', async (t) => {
    const probe = await server.request('GET', '/api/violations');
    if (probe.status === 404) return t.skip('this server has no violations yet');
    await server.putLot('lot_v', 100);
    const contractor = await server.request('PUT', '/api/contractors/contractor_1', {
      name: 'Contractor One',
      allocations: [{ parkingLotId: 'lot_v', allocatedCapacity: 1 }],
      plates: ['KA01AA0001', 'KA01AA0002'],
    });
    assert.ok(contractor.status === 200 || contractor.status === 201, contractor.text);
    const client = clients.create({ url: server.sseUrl, lots: ['lot_v'], types: ['violation'] });
    const rec = new Recorder(client);
    client.connect();
    await waitFor(() => client.state === 'connected', { message: 'connected' });

    for (const plateNumber of ['KA01AA0001', 'KA01AA0002']) {
      const r = await server.request('POST', '/api/monitor/gate', {
        parkingLotId: 'lot_v',
        gateId: 'north',
        event: 'vehicle_entry',
        plateNumber,
      });
      assert.equal(r.status, 200, r.text);
    }
    await waitFor(() => rec.of('violation').length >= 1, { message: 'a violation' });
    const [violation] = rec.of('violation');
    assert.equal(violation.data.violationType, 'capacity_breach');
    assert.equal(violation.data.contractorId, 'contractor_1');
    assert.equal(violation.data.parkingLotId, 'lot_v');
    assert.equal(violation.data.status, 'pending');
    assert.deepEqual(violation.data.details, {
      allocatedCapacity: 1,
      actualOccupancy: 2,
      excessVehicles: 1,
      duration: 0,
    });
    assert.equal(typeof violation.data.penalty, 'number');
    assert.match(violation.data._id, /\S/);
    assert.match(violation.meta.id, /\S/);
    await rec.pings(1);
    assert.equal(rec.of('alert').length, 0, 'types=violation holds back alerts');
    assert.equal(rec.of('capacity_update').length, 0);
  });

  test('misuse is reported as TypeError; a relative url needs a page', () => {
    assert.throws(() => createSSEClient({ url: '/api/sse/dashboard', EventSource }).connect(), TypeError);
    assert.throws(() => createSSEClient({ url: server.sseUrl }).connect(), TypeError, 'no EventSource in Node');
    assert.throws(() => createSSEClient({ jitter: 2 }), TypeError);
    assert.throws(() => createSSEClient({ lots: 'lot_1' }), TypeError);
    const client = createSSEClient({ url: server.sseUrl, EventSource });
    assert.throws(() => client.on('', () => {}), TypeError);
    assert.throws(() => client.on('alert', 'nope'), TypeError);
    assert.equal(client.state, 'idle');
    client.disconnect();
    assert.equal(client.state, 'idle');
  });
});
