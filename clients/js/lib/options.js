// The options of `createSSEClient`: their defaults, and the checks that turn a caller's object
// into the one the client runs on (or throw a TypeError naming the bad option).

export const DEFAULT_PATH = '/api/sse/dashboard';

const DEFAULTS = Object.freeze({
  url: undefined,
  lots: undefined,
  types: undefined,
  accessToken: undefined,
  lastEventId: undefined,
  reconnectDelay: 2000,
  maxReconnectAttempts: 5,
  // Caps the delay once attempts are unlimited; above the default schedule's last delay (32 s).
  maxReconnectDelay: 60_000,
  jitter: 0.2,
  heartbeatTimeout: 0,
  withCredentials: false,
  EventSource: undefined,
  headers: undefined,
  signal: undefined,
  fetch: undefined,
});

export function isNonNegativeNumber(value) {
  return typeof value === 'number' && !Number.isNaN(value) && value >= 0;
}

function checkStringList(name, value) {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v !== '')) {
    throw new TypeError(`createSSEClient: options.${name} must be an array of non-empty strings`);
  }
  return value.length > 0 ? [...value] : undefined;
}

function isAbortSignal(value) {
  return typeof value === 'object' && typeof value.aborted === 'boolean' && typeof value.addEventListener === 'function';
}

// Headers as a plain object of strings, or a Headers instance / array of pairs turned into one.
function checkHeaders(value) {
  if (value === undefined || value === null) return undefined;
  let entries;
  if (typeof value.entries === 'function' && !Array.isArray(value)) entries = [...value.entries()];
  else if (Array.isArray(value)) entries = value;
  else if (typeof value === 'object') entries = Object.entries(value);
  if (!entries || !entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string')) {
    throw new TypeError('createSSEClient: options.headers must map header names to strings');
  }
  return Object.fromEntries(entries);
}

/** The caller's options with the defaults filled in and every value checked. */
export function normalizeOptions(options) {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('createSSEClient: options must be an object');
  }
  const o = { ...DEFAULTS };
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) o[key] = value;
  }
  // `maxAttempts` is the short name (as in reconnecting-eventsource); it wins when both are given.
  if (options.maxAttempts !== undefined) o.maxReconnectAttempts = options.maxAttempts;
  delete o.maxAttempts;
  o.lots = checkStringList('lots', o.lots);
  o.types = checkStringList('types', o.types);
  for (const name of ['reconnectDelay', 'maxReconnectAttempts', 'maxReconnectDelay', 'heartbeatTimeout']) {
    if (!isNonNegativeNumber(o[name])) {
      throw new TypeError(`createSSEClient: options.${name} must be a number >= 0`);
    }
  }
  if (!isNonNegativeNumber(o.jitter) || o.jitter > 1) {
    throw new TypeError('createSSEClient: options.jitter must be a number between 0 and 1');
  }
  if (o.url !== undefined && typeof o.url !== 'string' && !(o.url instanceof URL)) {
    throw new TypeError('createSSEClient: options.url must be a string or a URL');
  }
  if (o.EventSource !== undefined && typeof o.EventSource !== 'function') {
    throw new TypeError('createSSEClient: options.EventSource must be a constructor');
  }
  if (o.accessToken !== undefined && o.accessToken !== null && typeof o.accessToken !== 'string') {
    throw new TypeError('createSSEClient: options.accessToken must be a string');
  }
  o.headers = checkHeaders(o.headers);
  if (o.signal !== undefined && o.signal !== null && !isAbortSignal(o.signal)) {
    throw new TypeError('createSSEClient: options.signal must be an AbortSignal');
  }
  if (o.fetch !== undefined && typeof o.fetch !== 'function') {
    throw new TypeError('createSSEClient: options.fetch must be a function');
  }
  return o;
}
