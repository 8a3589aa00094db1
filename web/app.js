// parkstream operator dashboard: the controller.
//
// How the page stays correct:
//  1. Load a snapshot over REST (lots, alerts, violations, history). Each answer carries a
//     `Last-Event-ID` header: the newest event that state reflects.
//  2. Subscribe to the stream from the oldest of those ids, so nothing falls in between;
//     events replayed on top of a slightly newer part are applied in order and end in the
//     server's state (alert/violation status never moves backwards, see store.js).
//  3. Apply live events. On `reset` (the server cannot replay from our id), on a reconnect
//     that did not resume, on a retry after giving up, or when the stream has gone silent,
//     drop the stream and start again at 1. A reconnect that resumed gets exactly what it
//     missed, so the page keeps its state (and the vehicle feed keeps the missed rows).
//
// Access (docs/protocol.md, "Access"): the token rides in the `parkstream_token` cookie (set from
// `/?token=JWT`, see api.js), which the browser sends with every fetch and the stream. A 401
// anywhere stops everything and shows "Sign-in required" instead of retrying: retrying cannot
// help until the operator opens a link with a fresh token.

import { TOKEN_COOKIE, adoptTokenFromUrl, createApi, oldestEventId } from './js/api.js';
import { createRenderer } from './js/render.js';
import {
  HISTORY_MINUTES,
  applyCapacity,
  createStore,
  mergeLot,
  setAlerts,
  setHistory,
  setLots,
  setViolations,
  upsertAlert,
  upsertViolation,
} from './js/store.js';

const CLIENT_URL = '/client/sse-client.js';
// A dashboard on a wall has nobody to click Retry: it never gives up, neither on the stream nor
// on the snapshot, and after a long outage it is back within MAX_DELAY_MS (plus jitter) of the
// server. The schedule is 2, 4, 8 s, then every 15 s.
const MAX_ATTEMPTS = Infinity;
const RECONNECT_DELAY_MS = 2000;
const MAX_DELAY_MS = 15_000;
const OPEN_LIMIT = 100;
const RECENT_LIMIT = 50;
/** Without the client module, how often the snapshot is reloaded instead. */
const POLL_MS = 15_000;

const openedWithToken = adoptTokenFromUrl();
const api = createApi();
const store = createStore();
const view = createRenderer(store, { alertAction, violationAction, retry: () => resync('manual', { manual: true }) });

let createSSEClient = null;
let client = null;
let syncing = null;
let retryTimer = 0;
let snapshotFailures = 0;
/** Consecutive resets soon after a fresh snapshot: guards against a resubscribe loop. */
let resetStreak = { count: 0, at: 0 };
/** Liveness: when anything (event or ping) last arrived, and the server's ping interval. */
let lastHeardAt = 0;
let lastPingAt = 0;
let pingGapMs = 0;
const lotsBeingFetched = new Set();
let contractorsTried = false;
/** null, or 'signin' (401) / 'forbidden' (403 on reading): the page waits for a person. */
let accessProblem = null;
let probing = false;

// --- snapshot -----------------------------------------------------------------------------------

/** One list request; a server that refuses our `limit` is asked again without it. */
async function optionalList(fetchList, params) {
  try {
    return await fetchList(params);
  } catch (err) {
    if ((err.status === 400 || err.status === 422) && err.field === 'limit') {
      return fetchList({ ...params, limit: undefined });
    }
    throw err;
  }
}

async function loadList(kind, fetchList, openStatuses) {
  const requests = [
    ...openStatuses.map((status) => optionalList(fetchList, { status, limit: OPEN_LIMIT })),
    optionalList(fetchList, { limit: RECENT_LIMIT }),
  ];
  // A missing endpoint (404: not built yet) is an empty list; another failure keeps what we
  // have and says so.
  const results = await Promise.allSettled(requests);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    if (failed.reason?.isMissing) return { kind, missing: true, lists: [], ids: [] };
    return { kind, error: failed.reason, lists: null, ids: [] };
  }
  const lists = results.map((r) => (Array.isArray(r.value.data) ? r.value.data : []));
  return { kind, lists, ids: results.map((r) => r.value.lastEventId) };
}

async function loadSnapshot() {
  const [lots, alerts, violations, history] = await Promise.all([
    api.lots(), // required: a failure here fails the snapshot
    loadList('alerts', api.alerts, ['active', 'acknowledged']),
    loadList('violations', api.violations, ['pending', 'acknowledged']),
    api.lotHistory(HISTORY_MINUTES).then(
      (r) => r.data,
      () => null, // not there yet: sparklines start empty and grow live
    ),
  ]);
  return {
    lots: lots.data,
    alerts,
    violations,
    history,
    lastEventId: oldestEventId([lots.lastEventId, ...alerts.ids, ...violations.ids]),
  };
}

function applySnapshot(snap) {
  setLots(store, snap.lots);
  if (snap.history) setHistory(store, snap.history);
  const notes = createSSEClient ? [] : [`live updates are unavailable (${CLIENT_URL} did not load), so this page reloads every ${POLL_MS / 1000} s`];
  for (const part of [snap.alerts, snap.violations]) {
    store.available[part.kind] = !part.missing;
    if (part.lists) {
      if (part.kind === 'alerts') setAlerts(store, ...part.lists);
      else setViolations(store, ...part.lists);
    } else if (part.missing) {
      if (part.kind === 'alerts') setAlerts(store);
      else setViolations(store);
    } else {
      notes.push(`${part.kind} could not be loaded (${part.error?.message || 'error'}); showing the last known list`);
    }
  }
  const text = notes.join('. ');
  view.showBanner(text ? `${text[0].toUpperCase()}${text.slice(1)}.` : '', 'warn');
  view.everythingChanged();
  if (!contractorsTried) loadContractors();
}

async function loadContractors() {
  contractorsTried = true;
  try {
    const { data } = await api.contractors();
    const list = Array.isArray(data) ? data : Array.isArray(data?.contractors) ? data.contractors : [];
    for (const c of list) {
      const id = c.contractorId ?? c.id ?? c._id;
      if (id && c.name) store.contractors.set(id, c.name);
    }
    if (list.length) {
      view.alertsChanged();
      view.violationsChanged();
    }
  } catch {
    // Contractors are admin-only; without names the ids are shown.
  }
}

/** A lot first seen in an event: fetch its name and threshold once. */
async function fetchLot(id) {
  if (lotsBeingFetched.has(id)) return;
  lotsBeingFetched.add(id);
  try {
    const { data } = await api.lot(id);
    mergeLot(store, data);
    view.lotsChanged([id]);
  } catch {
    // The card keeps the id as its name.
  }
}

// --- the stream ---------------------------------------------------------------------------------

function stopClient() {
  const old = client;
  client = null;
  if (old) {
    try {
      old.disconnect();
    } catch {
      // already closed
    }
  }
}

function startClient(lastEventId) {
  stopClient();
  if (!createSSEClient) {
    view.setConnection({ state: 'disconnected', info: null, syncing: false });
    schedulePoll();
    return;
  }
  const c = createSSEClient({
    lastEventId: lastEventId ?? undefined,
    // No accessToken: the cookie goes with the EventSource request (same origin), and a token
    // in the stream URL would end up in access logs.
    reconnectDelay: RECONNECT_DELAY_MS,
    maxAttempts: MAX_ATTEMPTS,
    maxReconnectDelay: MAX_DELAY_MS,
  });
  client = c;
  // Callbacks of a client we have replaced are ignored.
  const mine =
    (fn) =>
    (...args) => {
      if (client === c) fn(...args);
    };

  c.onStateChange(
    mine((state, info) => {
      let detail = null;
      if (state === 'failed') detail = { message: `Gave up after ${MAX_ATTEMPTS} attempts.` };
      if (state === 'reconnecting') {
        const delay = Number(info?.delayMs) || 0;
        detail = {
          attempt: info?.attempt,
          maxAttempts: Number.isFinite(MAX_ATTEMPTS) ? MAX_ATTEMPTS : undefined,
          retryAt: Number(info?.retryAt) || Date.now() + delay,
        };
      }
      view.setConnection({ state, info: detail, syncing: false });
      // A browser's EventSource does not say why it was refused: ask the REST side whether
      // the token is still good, once as the stream first drops and once when it gives up.
      if ((state === 'reconnecting' && Number(info?.attempt) === 1) || state === 'failed') probeAccess();
    }),
  );
  c.onConnected(
    mine(() => {
      heard();
      lastPingAt = 0;
      view.setConnection({ state: 'connected', info: null, syncing: false });
      // A reconnect that could not resume is followed by `reset` (from the server when our id
      // cannot be placed, from the client when it had no id), handled below.
    }),
  );
  c.onReset(
    mine(() => {
      heard();
      const now = Date.now();
      resetStreak = now - resetStreak.at < 15_000 ? { count: resetStreak.count + 1, at: now } : { count: 1, at: now };
      if (resetStreak.count > 3) {
        // The server keeps refusing fresh ids; keep this stream (it carries live events
        // after the reset) and refresh the snapshot beside it.
        refreshInPlace();
      } else {
        resync('reset');
      }
    }),
  );
  c.onPing(
    mine(() => {
      const now = Date.now();
      if (lastPingAt) pingGapMs = now - lastPingAt;
      lastPingAt = now;
      heard();
    }),
  );
  c.onCapacityUpdate(mine(onCapacity));
  c.onAlert(mine(onAlert));
  c.onViolation(mine(onViolation));
  c.onError(
    mine((err, context) => {
      // With an error listener the client no longer logs; keep our own failures visible.
      if (context?.kind !== 'connection') console.error('parkstream:', err, context);
      if (err && (err.status === 401 || err.status === 403)) accessDenied(err.status);
    }),
  );
  try {
    c.connect();
  } catch (err) {
    console.error('parkstream: cannot open the stream', err);
    client = null;
    createSSEClient = null;
    view.setConnection({ state: 'disconnected', info: null, syncing: false });
    schedulePoll();
  }
}

function heard() {
  lastHeardAt = Date.now();
}

function noteEvent() {
  heard();
  store.lastEventAt = Date.now();
  view.eventReceived();
}

function onCapacity(data, meta) {
  if (!data || typeof data.parkingLotId !== 'string') return;
  noteEvent();
  const { lot, isNew, feedRow } = applyCapacity(store, data, meta || {});
  view.lotsChanged(isNew ? null : [lot.parkingLotId]);
  if (feedRow) view.feedChanged();
  if (lot.partial) fetchLot(lot.parkingLotId);
}

function onAlert(data) {
  noteEvent();
  const { changed, item, previous } = upsertAlert(store, data);
  if (!changed) return;
  view.alertsChanged();
  if (!previous && item.status === 'active' && (item.severity === 'high' || item.severity === 'critical')) {
    view.announce(`New ${item.severity} alert: ${item.message}`);
  }
}

function onViolation(data) {
  noteEvent();
  const { changed } = upsertViolation(store, data);
  if (changed) view.violationsChanged();
}

// --- (re)synchronisation ----------------------------------------------------------------------

/**
 * Drops the stream, reloads the snapshot and subscribes again from it. Concurrent calls
 * share one run.
 */
function resync(reason, { manual = false } = {}) {
  clearTimeout(retryTimer);
  if (manual) snapshotFailures = 0;
  if (syncing) return syncing;
  syncing = (async () => {
    stopClient();
    view.setConnection({ state: 'connecting', info: null, syncing: true });
    try {
      const snap = await loadSnapshot();
      accessRestored();
      applySnapshot(snap);
      snapshotFailures = 0;
      syncing = null;
      startClient(snap.lastEventId);
    } catch (err) {
      syncing = null;
      snapshotFailed(err);
    }
  })();
  document.body.dataset.lastSync = reason;
  return syncing;
}

async function refreshInPlace() {
  try {
    applySnapshot(await loadSnapshot());
  } catch {
    // The stream still runs; the next reset or reconnect tries again.
  }
}

function snapshotFailed(err) {
  if (err?.status === 401 || err?.status === 403) {
    accessDenied(err.status);
    return;
  }
  snapshotFailures += 1;
  if (snapshotFailures > MAX_ATTEMPTS) {
    view.setConnection({
      state: 'failed',
      info: { message: `${err?.message || 'The server could not be reached.'} Gave up after ${MAX_ATTEMPTS} attempts.` },
      syncing: false,
    });
    return;
  }
  const base = Math.min(RECONNECT_DELAY_MS * 2 ** (snapshotFailures - 1), MAX_DELAY_MS);
  const delay = Math.round(base * (0.8 + Math.random() * 0.4));
  view.setConnection({
    state: 'reconnecting',
    info: { attempt: snapshotFailures, maxAttempts: Number.isFinite(MAX_ATTEMPTS) ? MAX_ATTEMPTS : undefined, retryAt: Date.now() + delay },
    syncing: false,
  });
  retryTimer = setTimeout(() => resync('snapshot retry'), delay);
}

function schedulePoll() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => resync('poll'), POLL_MS);
}

// --- access ---------------------------------------------------------------------------------------

function hasTokenCookie() {
  try {
    return document.cookie.split(/;\s*/).some((c) => c.startsWith(`${TOKEN_COOKIE}=`));
  } catch {
    return false;
  }
}

/**
 * 401: no token or a refused one; 403 on reading: the token's role may not see the dashboard.
 * Either way retrying by itself cannot help: stop the stream and every timer and say what to
 * do. "Try again" (after opening a fresh link in another tab, say) starts over.
 */
function accessDenied(status) {
  const kind = status === 401 ? 'signin' : 'forbidden';
  clearTimeout(retryTimer);
  stopClient();
  snapshotFailures = 0;
  accessProblem = kind;
  view.showBanner('');
  view.setAccess(kind, { hadToken: openedWithToken || hasTokenCookie() });
  view.setConnection({ state: kind === 'signin' ? 'unauthorized' : 'forbidden', info: null, syncing: false });
}

function accessRestored() {
  if (!accessProblem) return;
  accessProblem = null;
  view.setAccess(null);
}

/** Whether a dropped stream was refused for its credentials (see onStateChange). */
async function probeAccess() {
  if (probing || accessProblem) return;
  probing = true;
  const probed = client;
  try {
    await api.lots();
  } catch (err) {
    if ((err?.status === 401 || err?.status === 403) && client === probed) accessDenied(err.status);
  } finally {
    probing = false;
  }
}

// A stream that went silent (no event and no ping for three ping intervals) is dead even if
// the browser has not noticed: start again. Armed only once the ping interval is known.
function checkLiveness() {
  if (!client || client.state !== 'connected' || !pingGapMs) return;
  if (Date.now() - lastHeardAt > Math.max(90_000, 3 * pingGapMs)) resync('stream silent');
}
setInterval(checkLiveness, 10_000);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') checkLiveness();
});
window.addEventListener('online', () => {
  if (accessProblem) return; // the network was not the problem
  const state = client?.state;
  if (!syncing && (!client || state === 'failed' || state === 'disconnected')) resync('online', { manual: true });
});

// --- actions ------------------------------------------------------------------------------------

const DONE = { acknowledge: 'acknowledged', resolve: 'resolved' };

function actionError(err, noun) {
  switch (err?.status) {
    case 0:
      return 'Could not reach the server. Try again.';
    case 401:
      return 'Sign-in required: open the link the server printed (it carries a token).';
    case 403:
      return `Not allowed for your role: changing ${noun}s needs an operator or admin token.`;
    case 404:
      return err.code && !err.code.startsWith('http_') ? err.message : `Changing ${noun}s is not available on this server yet.`;
    case 409:
      return `Not changed: ${err.message || `the ${noun} was already changed elsewhere`}.`;
    default:
      return err?.message || 'Something went wrong.';
  }
}

async function runAction(kind, id, action, call, upsert, changed, noun) {
  if (!DONE[action]) return;
  view.setPending(kind, id, action);
  try {
    const { data } = await call(id, action);
    const current = (kind === 'alert' ? store.alerts : store.violations).get(id);
    // The answer is the changed item; an answer of another shape still tells us it worked.
    const next = data && data._id === id ? data : current ? { ...current, status: data?.status || DONE[action] } : null;
    if (next) upsert(store, next);
    changed();
    view.announce(`${noun[0].toUpperCase()}${noun.slice(1)} ${DONE[action]}.`);
  } catch (err) {
    view.setRowError(kind, id, actionError(err, noun));
    if (err?.status === 401) accessDenied(401);
  } finally {
    view.setPending(kind, id, null);
  }
}

function alertAction(id, action) {
  return runAction('alert', id, action, api.alertAction, upsertAlert, view.alertsChanged, 'alert');
}

function violationAction(id, action) {
  return runAction('violation', id, action, api.violationAction, upsertViolation, view.violationsChanged, 'violation');
}

// --- start --------------------------------------------------------------------------------------

async function main() {
  try {
    ({ createSSEClient } = await import(CLIENT_URL));
  } catch (err) {
    console.error('parkstream: live updates unavailable, the client module did not load', err);
  }
  resync('start');
}

main();
