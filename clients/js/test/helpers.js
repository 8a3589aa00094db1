// Small helpers shared by the tests: waiting, recording what a client sees, spying on the
// (real) EventSource it opens.

import { EventSource } from 'eventsource';
import { setTimeout as sleep } from 'node:timers/promises';
import { createSSEClient } from '../sse-client.js';

export { sleep };

/** Polls `predicate` until it returns a truthy value; throws with `message` after `timeout` ms. */
export async function waitFor(predicate, { timeout = 5000, interval = 10, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${message}`);
    await sleep(interval);
  }
}

/**
 * An EventSource class that is the real `eventsource` one, recording the URLs it is opened with
 * and the event names listened to.
 */
export function spyEventSource() {
  class SpyEventSource extends EventSource {
    static urls = [];
    static listened = [];
    static instances = [];

    constructor(url, init) {
      super(url, init);
      SpyEventSource.urls.push(String(url));
      SpyEventSource.instances.push(this);
    }

    addEventListener(type, listener, options) {
      SpyEventSource.listened.push(type);
      super.addEventListener(type, listener, options);
    }
  }
  return SpyEventSource;
}

/** Records everything a client reports, in order. */
export class Recorder {
  constructor(client) {
    this.client = client;
    this.events = [];
    this.states = [];
    this.errors = [];
    for (const type of ['connected', 'capacity_update', 'alert', 'violation', 'reset', 'ping']) {
      client.on(type, (data, meta) => this.events.push({ type, data, meta, at: Date.now() }));
    }
    client.onStateChange((state, info) => this.states.push({ state, info, at: Date.now() }));
    client.onError((error, context) => this.errors.push({ error, context }));
  }

  of(type) {
    return this.events.filter((e) => e.type === type);
  }

  occupied(lot) {
    return this.of('capacity_update')
      .filter((e) => lot === undefined || e.data.parkingLotId === lot)
      .map((e) => e.data.occupied);
  }

  stateNames() {
    return this.states.map((s) => s.state);
  }

  /** Waits for `n` more pings than have been received now: everything published before is in. */
  async pings(n = 2, timeout = 5000) {
    const target = this.of('ping').length + n;
    await waitFor(() => this.of('ping').length >= target, { timeout, message: `${n} pings` });
  }
}

/** Creates clients against `server` and disconnects them all in `cleanup()`. */
export class Clients {
  constructor() {
    this.all = [];
  }

  create(options) {
    const client = createSSEClient({ EventSource, jitter: 0, ...options });
    this.all.push(client);
    return client;
  }

  cleanup() {
    for (const client of this.all) client.disconnect();
    this.all = [];
  }
}
