// The controller's state: everything app.js and its parts remember between events, in one
// object rather than module globals, and the reconnection policy it follows.

// Relative (to app.js, which imports it), like every URL of the page: see api.js.
export const CLIENT_URL = './client/sse-client.js';
/** The stream, relative to the page. */
export const STREAM_URL = 'api/sse/dashboard';
// A dashboard on a wall has nobody to click Retry: it never gives up, neither on the stream nor
// on the snapshot, and after a long outage it is back within MAX_DELAY_MS (plus jitter) of the
// server. The schedule is 2, 4, 8 s, then every 15 s.
export const MAX_ATTEMPTS = Infinity;
export const RECONNECT_DELAY_MS = 2000;
export const MAX_DELAY_MS = 15_000;
/** Without the client module, how often the snapshot is reloaded instead. */
export const POLL_MS = 15_000;

/** @param {boolean} openedWithToken whether the page's URL carried a token (api.js) */
export function createSession(openedWithToken) {
  return {
    openedWithToken,
    /** The client module's factory; null when it did not load (the page polls instead). */
    createSSEClient: null,
    /** The stream's client; callbacks of any other (replaced) client are ignored. */
    client: null,
    /** The running resync, which concurrent callers share. */
    syncing: null,
    /** The next snapshot retry or poll. */
    retryTimer: 0,
    snapshotFailures: 0,
    /** Consecutive resets soon after a fresh snapshot: guards against a resubscribe loop. */
    resetStreak: { count: 0, at: 0 },
    /** Liveness: when anything (event or ping) last arrived, and the server's ping interval. */
    lastHeardAt: 0,
    lastPingAt: 0,
    pingGapMs: 0,
    lotsBeingFetched: new Set(),
    contractorsTried: false,
    /** null, or 'signin' (401) / 'forbidden' (403 on reading): the page waits for a person. */
    accessProblem: null,
    probing: false,
  };
}
