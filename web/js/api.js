// The REST side of the dashboard (docs/protocol.md, "REST"): one fetch wrapper that reads the
// `Last-Event-ID` header of snapshots and turns error bodies
// (`{"error": {"code", "message", "field"?}}`) into ApiError.
//
// Credentials (docs/protocol.md, "Access") travel in the `parkstream_token` cookie: the browser sends it
// with every same-origin fetch and with the EventSource, so the token is in no URL the page
// requests (nor in server logs or history) and in no header or storage this code manages.

export const TOKEN_COOKIE = 'parkstream_token';
/** Where earlier versions of this page kept the token; cleared on load. */
const LEGACY_TOKEN_KEY = 'parkstream.token';
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * A token in the address bar (`?token=JWT`, the link `parkstream serve` prints) becomes the
 * `parkstream_token` cookie and is removed from the URL, so it is not bookmarked, shared or
 * left in history. Returns true when the page was opened with a token. The server does this
 * itself before the page loads (a redirect that sets the cookie); this covers a page served
 * some other way.
 */
export function adoptTokenFromUrl() {
  let token = null;
  try {
    const url = new URL(window.location.href);
    token = url.searchParams.get('token');
    if (url.searchParams.has('token')) {
      url.searchParams.delete('token');
      window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
    }
  } catch {
    // An unusual URL: carry on without one from it.
  }
  try {
    sessionStorage.removeItem(LEGACY_TOKEN_KEY);
  } catch {
    // Storage disabled (private mode, policy): nothing was kept there either.
  }
  token = token?.trim();
  if (!token) return false;
  // A JWT is cookie-safe as it is; anything else is percent-encoded rather than allowed to
  // break the cookie apart.
  const value = /^[A-Za-z0-9._~+/=-]+$/.test(token) ? token : encodeURIComponent(token);
  const secure = window.location.protocol === 'https:' ? '; Secure' : '';
  // Scoped to the dashboard's directory, which is `/` unless a proxy serves it under a path.
  const path = new URL('./', window.location.href).pathname;
  document.cookie = `${TOKEN_COOKIE}=${value}; Path=${path}; SameSite=Strict${secure}`;
  return true;
}

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {string} code the error code of docs/protocol.md, or a local one
   * @param {string} message for a person
   * @param {string} [field]
   */
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }

  /** The endpoint is not there (yet): callers degrade instead of failing. */
  get isMissing() {
    return this.status === 404 || this.status === 405 || this.status === 501;
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value != null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

const segment = encodeURIComponent;

// Every path is relative to the page, so the dashboard works under whatever path a reverse
// proxy serves it at (`https://ops.example.com/parking/` asks `/parking/api/lots`).
export function createApi({ baseUrl = '' } = {}) {
  /** `accept: 'text/csv'` answers `{text, filename}` (the `Content-Disposition` name) instead of JSON. */
  async function request(method, path, { body, accept = 'application/json' } = {}) {
    const headers = { Accept: accept };
    // Same origin: the browser adds the `parkstream_token` cookie itself.
    const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (typeof AbortSignal !== 'undefined' && AbortSignal.timeout) {
      init.signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    }

    let response;
    try {
      response = await fetch(baseUrl + path, init);
    } catch (err) {
      const timedOut = err && (err.name === 'TimeoutError' || err.name === 'AbortError');
      throw new ApiError(
        0,
        timedOut ? 'timeout' : 'network',
        timedOut ? 'The server did not answer in time.' : 'The server could not be reached.',
      );
    }

    let data = null;
    const text = await response.text().catch(() => '');
    if (response.ok && accept !== 'application/json') {
      const disposition = response.headers.get('Content-Disposition') || '';
      return { text, filename: /filename="([^"]+)"/.exec(disposition)?.[1] ?? null };
    }
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const detail = data && typeof data === 'object' ? data.error : null;
      throw new ApiError(
        response.status,
        detail?.code || `http_${response.status}`,
        detail?.message || response.statusText || `HTTP ${response.status}`,
        detail?.field,
      );
    }
    return { data, lastEventId: response.headers.get('Last-Event-ID') };
  }

  return {
    lots: () => request('GET', 'api/lots'),
    lot: (id) => request('GET', `api/lots/${segment(id)}`),
    /** Expected occupancy over the next hour (`GET /api/lots/{id}/forecast`). */
    lotForecast: (id) => request('GET', `api/lots/${segment(id)}/forecast`),
    lotHistory: (minutes) => request('GET', `api/history/occupancy${query({ minutes })}`),
    alerts: (params) => request('GET', `api/alerts${query(params)}`),
    violations: (params) => request('GET', `api/violations${query(params)}`),
    contractors: () => request('GET', 'api/contractors'),
    /** A vehicle now and its visits (`GET /api/vehicles/{plate}`, docs/protocol.md "Vehicles"). */
    vehicle: (plate) => request('GET', `api/vehicles/${segment(plate)}`),
    /** A contractor's vehicles inside and its allocations against them. */
    contractorVehicles: (id) => request('GET', `api/contractors/${segment(id)}/vehicles`),
    /** A contractor's statement (docs/protocol.md "Statements"); `csv` asks for the file. */
    statement: (id, from, to, { csv = false } = {}) =>
      request('GET', `api/contractors/${segment(id)}/statement${query({ from, to })}`, csv ? { accept: 'text/csv' } : {}),
    /** One lot's stored rollups (docs/protocol.md "Stored occupancy history"); step '1m' or '1h'. */
    occupancyRange: (lot, from, to, step) => request('GET', `api/history/occupancy${query({ lot, from, to, step })}`),
    /** Who the token is and what it may do (`GET /api/session`). */
    session: () => request('GET', 'api/session'),
    /** @param {'acknowledge'|'resolve'} action */
    alertAction: (id, action) => request('POST', `api/alerts/${segment(id)}/${action}`, { body: {} }),
    /** @param {'acknowledge'|'resolve'} action */
    violationAction: (id, action) =>
      request('POST', `api/violations/${segment(id)}/${action}`, { body: {} }),
  };
}

/**
 * The oldest of several `Last-Event-ID` values. Snapshot parts are read at slightly
 * different moments; subscribing from the oldest leaves no gap, and the few events replayed
 * on top of a newer part are applied in order, so the end state is the server's.
 * Ids are opaque, but the server's are increasing decimal strings: compare those as numbers,
 * anything else as strings.
 */
export function oldestEventId(ids) {
  const present = ids.filter((id) => typeof id === 'string' && id !== '');
  if (present.length === 0) return null;
  return present.reduce((a, b) => (compareEventIds(a, b) <= 0 ? a : b));
}

export function compareEventIds(a, b) {
  const digits = /^\d+$/;
  if (digits.test(a) && digits.test(b)) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) return x.length - y.length;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}
