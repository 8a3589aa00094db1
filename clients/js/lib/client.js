// The client's state machine: connecting, dispatching events, and reconnecting.
//
// Reconnection is ours, not the EventSource's: on any error the connection is closed and a new
// one is opened after base * 2^(attempt-1) ms (capped, with jitter, and never sooner than the
// server's `retry:` when the transport lets us read it), resuming through the `lastEventId`
// query parameter with the id of the last event received.

import { FetchEventSource, hasHeader } from './fetch-transport.js';
import { DEFAULT_PATH, isNonNegativeNumber, normalizeOptions } from './options.js';

/** The event names of the parkstream stream (docs/protocol.md, "The stream"). */
export const EVENT_TYPES = Object.freeze([
  'connected',
  'capacity_update',
  'alert',
  'violation',
  'reset',
  'ping',
]);

/** The states a client can be in. */
export const STATES = Object.freeze([
  'idle',
  'connecting',
  'connected',
  'reconnecting',
  'disconnected',
  'failed',
]);

// setTimeout fires at once for delays above 2^31-1 ms: never ask for more.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A client of `GET /api/sse/dashboard`. Create it with `createSSEClient(options)`.
 */
export class SSEClient {
  #options;
  /** @type {Map<string, Set<Function>>} */
  #listeners = new Map();
  #stateListeners = new Set();
  #errorListeners = new Set();

  #state = 'idle';
  #lastEventId = null;
  #clientId = null;

  // The open EventSource, and the event names listened to on it.
  #es = null;
  #esListening = null;
  #reconnectTimer = null;
  #heartbeatTimer = null;
  // Failed attempts since the last good connection (a `connected` event).
  #attempt = 0;
  // Whether this client has ever been connected, and the id the current connection resumes from.
  #everConnected = false;
  #resumeFrom = null;
  // The server's `retry:` in ms, the floor of every delay, once a transport has read it.
  #serverRetry = null;

  constructor(options = {}) {
    const o = normalizeOptions(options);
    if (o.lastEventId !== undefined && o.lastEventId !== null && o.lastEventId !== '') {
      this.#lastEventId = String(o.lastEventId);
    }
    this.#options = o;
    if (o.signal) {
      // Aborting closes the client for good: connect() does nothing afterwards.
      o.signal.addEventListener('abort', () => this.disconnect(), { once: true });
    }
  }

  /** 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'failed' */
  get state() {
    return this.#state;
  }

  /** The id of the last event received (the resume point), or null. */
  get lastEventId() {
    return this.#lastEventId;
  }

  /** The server's id for the current (or last) connection, from its `connected` event. */
  get clientId() {
    return this.#clientId;
  }

  /**
   * Opens the stream. Does nothing while connecting, connected or reconnecting. After
   * `disconnect()` or a terminal failure it starts again, resuming from `lastEventId`.
   */
  connect() {
    if (this.#state === 'connecting' || this.#state === 'connected' || this.#state === 'reconnecting') {
      return this;
    }
    if (this.#options.signal?.aborted) {
      this.#setState('disconnected', {});
      return this;
    }
    // Environment errors are programming errors: throw them here, synchronously.
    this.#eventSourceConstructor();
    this.#baseUrl();
    this.#attempt = 0;
    this.#open();
    return this;
  }

  /** Closes the stream and cancels any pending reconnection. */
  disconnect() {
    if (this.#state === 'idle' || this.#state === 'disconnected') return this;
    this.#teardown();
    this.#setState('disconnected', {});
    return this;
  }

  /**
   * Calls `callback(data, meta)` for every event named `type` (any name, known or not).
   * Returns a function that removes the callback. `on('error', cb)` is `onError(cb)`.
   */
  on(type, callback) {
    if (typeof type !== 'string' || type === '') {
      throw new TypeError('SSEClient.on: type must be a non-empty string');
    }
    if (typeof callback !== 'function') {
      throw new TypeError('SSEClient.on: callback must be a function');
    }
    if (type === 'error') return this.onError(callback);
    let set = this.#listeners.get(type);
    if (!set) {
      set = new Set();
      this.#listeners.set(type, set);
    }
    set.add(callback);
    if (this.#es) this.#listen(this.#es, type);
    return () => this.off(type, callback);
  }

  /** Removes a callback added with `on(type, callback)`. */
  off(type, callback) {
    if (type === 'error') {
      this.#errorListeners.delete(callback);
      return this;
    }
    const set = this.#listeners.get(type);
    if (set) set.delete(callback);
    return this;
  }

  onConnected(callback) {
    return this.on('connected', callback);
  }

  onCapacityUpdate(callback) {
    return this.on('capacity_update', callback);
  }

  onAlert(callback) {
    return this.on('alert', callback);
  }

  onViolation(callback) {
    return this.on('violation', callback);
  }

  onReset(callback) {
    return this.on('reset', callback);
  }

  onPing(callback) {
    return this.on('ping', callback);
  }

  /** `callback(state, info)` on every change of `state`. Returns an unsubscribe function. */
  onStateChange(callback) {
    if (typeof callback !== 'function') {
      throw new TypeError('SSEClient.onStateChange: callback must be a function');
    }
    this.#stateListeners.add(callback);
    return () => this.#stateListeners.delete(callback);
  }

  /**
   * `callback(error, context)` for the terminal failure (after the last attempt), for event data
   * that is not JSON, and for exceptions thrown by callbacks. Returns an unsubscribe function.
   */
  onError(callback) {
    if (typeof callback !== 'function') {
      throw new TypeError('SSEClient.onError: callback must be a function');
    }
    this.#errorListeners.add(callback);
    return () => this.#errorListeners.delete(callback);
  }

  // --- connection ---------------------------------------------------------------------------

  #eventSourceConstructor() {
    if (this.#options.headers) {
      const fetchFn = this.#options.fetch ?? globalThis.fetch;
      if (typeof fetchFn !== 'function') {
        throw new TypeError('SSEClient: options.headers needs fetch; pass one as options.fetch');
      }
      return FetchEventSource.bind(null, fetchFn, this.#options.headers);
    }
    const ES = this.#options.EventSource ?? globalThis.EventSource;
    if (typeof ES !== 'function') {
      throw new TypeError(
        'SSEClient: no EventSource in this environment; pass one as options.EventSource',
      );
    }
    return ES;
  }

  #baseUrl() {
    const { url } = this.#options;
    const base = globalThis.location?.href;
    try {
      return base === undefined ? new URL(url ?? DEFAULT_PATH) : new URL(url ?? DEFAULT_PATH, base);
    } catch {
      throw new TypeError(
        `SSEClient: cannot resolve the stream URL ${JSON.stringify(String(url ?? DEFAULT_PATH))}` +
          (base === undefined ? ' (outside a browser the url option must be absolute)' : ''),
      );
    }
  }

  #streamUrl() {
    const u = this.#baseUrl();
    const { lots, types, accessToken } = this.#options;
    if (lots) u.searchParams.set('lots', lots.join(','));
    if (types) u.searchParams.set('types', types.join(','));
    // With headers (the fetch transport) the token goes as a header, out of URLs and logs.
    if (accessToken && !this.#options.headers) u.searchParams.set('access_token', accessToken);
    if (this.#lastEventId !== null) u.searchParams.set('lastEventId', this.#lastEventId);
    // Keep the list separators readable: lots=a,b rather than lots=a%2Cb (the same to the server).
    return u.toString().replace(/%2C/gi, ',');
  }

  // The stream URL for messages: never with the token.
  #describeUrl() {
    try {
      const u = this.#baseUrl();
      return u.origin + u.pathname;
    } catch {
      return String(this.#options.url ?? DEFAULT_PATH);
    }
  }

  #open() {
    const ES = this.#eventSourceConstructor();
    const url = this.#streamUrl();
    let es;
    try {
      const { headers, accessToken } = this.#options;
      if (headers && accessToken && !hasHeader(headers, 'authorization')) {
        es = new ES(url, { withCredentials: this.#options.withCredentials, authorization: `Bearer ${accessToken}` });
      } else {
        es = this.#options.withCredentials ? new ES(url, { withCredentials: true }) : new ES(url);
      }
    } catch (error) {
      const failure = new Error(`parkstream SSE: cannot open ${this.#describeUrl()}: ${error?.message ?? error}`, {
        cause: error,
      });
      failure.name = 'SSEConnectionError';
      failure.attempts = this.#attempt;
      this.#fail(failure);
      return;
    }
    this.#es = es;
    this.#esListening = new Set();
    this.#resumeFrom = this.#lastEventId;
    // Our own event types are always listened to, so that the resume point always advances.
    for (const type of EVENT_TYPES) this.#listen(es, type);
    for (const type of this.#listeners.keys()) this.#listen(es, type);
    es.addEventListener('error', (event) => this.#onConnectionError(es, event));
    // Only the fetch transport can read `retry:`; a browser's EventSource keeps it to itself.
    es.addEventListener('retry', (event) => {
      if (es === this.#es && isNonNegativeNumber(event?.retry)) this.#serverRetry = event.retry;
    });
    this.#armHeartbeat(es);
    this.#setState('connecting', { attempt: this.#attempt });
  }

  #listen(es, type) {
    if (this.#esListening.has(type)) return;
    this.#esListening.add(type);
    es.addEventListener(type, (event) => this.#onEvent(es, type, event));
  }

  #onConnectionError(es, event) {
    if (es !== this.#es) return;
    this.#closeEventSource();
    const cause = connectionErrorOf(event);
    if (this.#attempt >= this.#options.maxReconnectAttempts) {
      const n = this.#attempt;
      const error = new Error(
        (n === 0
          ? `parkstream SSE: the connection to ${this.#describeUrl()} failed and reconnecting is disabled`
          : `parkstream SSE: could not reconnect to ${this.#describeUrl()} after ${n} attempt${n === 1 ? '' : 's'}`) +
          ` (last error: ${cause.message})`,
        { cause },
      );
      error.name = 'SSEConnectionError';
      error.attempts = n;
      // The HTTP status of the last refusal, when the EventSource tells it (browsers do not).
      if (cause.status !== undefined) error.status = cause.status;
      this.#fail(error);
      return;
    }
    this.#attempt += 1;
    const delayMs = this.#delayFor(this.#attempt);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#open();
    }, delayMs);
    this.#setState('reconnecting', { attempt: this.#attempt, delayMs, retryAt: Date.now() + delayMs });
  }

  /**
   * base * 2^(attempt-1), capped, times a random factor in [1-jitter, 1+jitter], and never less
   * than the server's `retry:` (the server asked not to be called back sooner).
   */
  #delayFor(attempt) {
    const { reconnectDelay, maxReconnectDelay, jitter } = this.#options;
    const exponential = Math.min(reconnectDelay * 2 ** (attempt - 1), maxReconnectDelay);
    const factor = jitter > 0 ? 1 - jitter + Math.random() * 2 * jitter : 1;
    const delay = Math.max(Math.round(exponential * factor), this.#serverRetry ?? 0);
    return Math.min(delay, MAX_TIMER_MS);
  }

  #armHeartbeat(es) {
    const timeout = this.#options.heartbeatTimeout;
    if (!(timeout > 0)) return;
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = setTimeout(() => {
      this.#heartbeatTimer = null;
      this.#onConnectionError(es, {
        type: 'error',
        message: `no data from the server for ${timeout} ms`,
      });
    }, Math.min(timeout, MAX_TIMER_MS));
  }

  #closeEventSource() {
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
    const es = this.#es;
    this.#es = null;
    this.#esListening = null;
    if (es) {
      try {
        es.close();
      } catch {
        // Closing is best effort.
      }
    }
  }

  #teardown() {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#closeEventSource();
  }

  #fail(error) {
    this.#teardown();
    this.#setState('failed', { error });
    this.#reportError(error, { kind: 'connection' });
  }

  #setState(state, info) {
    if (state === this.#state) return;
    this.#state = state;
    for (const callback of [...this.#stateListeners]) {
      if (!this.#stateListeners.has(callback)) continue;
      try {
        callback(state, info);
      } catch (error) {
        this.#reportError(error, { kind: 'callback', type: 'statechange' });
      }
    }
  }

  // --- events --------------------------------------------------------------------------------

  #onEvent(es, type, event) {
    if (es !== this.#es) return;
    // Not a message (an `open` or `error` event dispatched under a name someone listens to).
    if (!event || typeof event.data !== 'string') return;
    this.#armHeartbeat(es);

    // A browser's MessageEvent carries the last id seen on the connection even on events without
    // an `id:` line; ids strictly increase, so an id equal to the current one is no new id.
    const raw = typeof event.lastEventId === 'string' ? event.lastEventId : '';
    const id = raw !== '' && raw !== this.#lastEventId ? raw : undefined;
    if (id !== undefined) this.#lastEventId = id;
    const meta = { type, id };

    let data;
    let parsed = true;
    try {
      data = JSON.parse(event.data);
    } catch (cause) {
      parsed = false;
      data = undefined;
      this.#reportError(
        new Error(`parkstream SSE: the data of a ${JSON.stringify(type)} event is not JSON`, { cause }),
        { kind: 'parse', type, id, data: event.data },
      );
    }

    if (type === 'connected') {
      const synthetic = this.#everConnected && this.#resumeFrom === null;
      this.#attempt = 0;
      this.#everConnected = true;
      this.#clientId = parsed && data && typeof data.clientId === 'string' ? data.clientId : null;
      this.#setState('connected', {
        clientId: this.#clientId,
        resumed: Boolean(parsed && data && data.resumed),
      });
      // A state callback may have called disconnect(): then nothing more is delivered.
      if (parsed && es === this.#es) this.#dispatch(type, data, meta);
      // Reconnected with no id to resume from: events may have been missed, as after `reset`.
      if (synthetic && es === this.#es) {
        this.#dispatch('reset', { reason: 'no_resume_point' }, { type: 'reset', id: undefined, synthetic: true });
      }
      return;
    }
    if (type === 'reset') {
      // The id we resumed from is useless now; the next live event gives a new one.
      if (id === undefined) this.#lastEventId = null;
    }
    if (parsed) this.#dispatch(type, data, meta);
  }

  #dispatch(type, data, meta) {
    const set = this.#listeners.get(type);
    if (!set || set.size === 0) return;
    for (const callback of [...set]) {
      // A callback removed by an earlier one is not called.
      if (!set.has(callback)) continue;
      try {
        callback(data, meta);
      } catch (error) {
        this.#reportError(error, { kind: 'callback', type, id: meta.id });
      }
    }
  }

  #reportError(error, context) {
    if (this.#errorListeners.size === 0) {
      if (context.kind !== 'connection') {
        // Do not swallow a failing callback silently.
        console.error('parkstream SSE:', error);
      }
      return;
    }
    for (const callback of [...this.#errorListeners]) {
      if (!this.#errorListeners.has(callback)) continue;
      try {
        callback(error, context);
      } catch (inner) {
        console.error('parkstream SSE: an onError callback threw:', inner);
      }
    }
  }
}

// The cause of a connection error, as an Error. Browsers give a bare Event; the `eventsource`
// package adds `code` (the HTTP status) and `message`.
function connectionErrorOf(event) {
  const message = typeof event?.message === 'string' && event.message ? event.message : 'connection error';
  const error = new Error(message);
  if (event && event.code !== undefined) error.status = event.code;
  return error;
}
