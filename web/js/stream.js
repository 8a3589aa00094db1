// The live stream: one client of /client/sse-client.js at a time, its state shown on the page,
// and its events applied to the store. A reset, a dead stream or a refused token is handed to
// the parts of app.js that deal with it (ctx.sync, ctx.access).

import { MAX_ATTEMPTS, MAX_DELAY_MS, RECONNECT_DELAY_MS, STREAM_URL } from './session.js';
import { applyCapacity, upsertAlert, upsertViolation } from './store.js';

/** @param {{store, view, session, sync, access, snapshot, notify}} ctx see app.js */
export function createStream(ctx) {
  const { store, session } = ctx;

  function stop() {
    const old = session.client;
    session.client = null;
    if (old) {
      try {
        old.disconnect();
      } catch {
        // already closed
      }
    }
  }

  function heard() {
    session.lastHeardAt = Date.now();
  }

  function noteEvent() {
    heard();
    ctx.notify.heard();
    store.lastEventAt = Date.now();
    ctx.view.eventReceived();
  }

  function onCapacity(data, meta) {
    if (!data || typeof data.parkingLotId !== 'string') return;
    noteEvent();
    const { lot, isNew, feedRow } = applyCapacity(store, data, meta || {});
    ctx.view.lotsChanged(isNew ? null : [lot.parkingLotId]);
    if (feedRow) {
      ctx.view.feedChanged();
      ctx.tools.vehiclesMoved();
    }
    if (lot.partial) ctx.snapshot.fetchLot(lot.parkingLotId);
  }

  function onAlert(data) {
    noteEvent();
    const { changed, item, previous } = upsertAlert(store, data);
    if (!changed) return;
    ctx.view.alertsChanged();
    ctx.notify.alert(item, previous);
    if (!previous && item.status === 'active' && (item.severity === 'high' || item.severity === 'critical')) {
      ctx.view.announce(`New ${item.severity} alert: ${item.message}`);
    }
  }

  function onViolation(data) {
    noteEvent();
    const { changed } = upsertViolation(store, data);
    if (changed) ctx.view.violationsChanged();
  }

  function onStateChange(state, info) {
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
    ctx.view.setConnection({ state, info: detail, syncing: false });
    // A browser's EventSource does not say why it was refused: ask the REST side whether
    // the token is still good, once as the stream first drops and once when it gives up.
    if ((state === 'reconnecting' && Number(info?.attempt) === 1) || state === 'failed') ctx.access.probe();
  }

  function onConnected(data) {
    heard();
    ctx.notify.connected(data);
    session.lastPingAt = 0;
    ctx.view.setConnection({ state: 'connected', info: null, syncing: false });
    // A reconnect that could not resume is followed by `reset` (from the server when our id
    // cannot be placed, from the client when it had no id), handled below.
  }

  function onReset() {
    heard();
    const now = Date.now();
    const streak = session.resetStreak;
    session.resetStreak = now - streak.at < 15_000 ? { count: streak.count + 1, at: now } : { count: 1, at: now };
    if (session.resetStreak.count > 3) {
      // The server keeps refusing fresh ids; keep this stream (it carries live events
      // after the reset) and refresh the snapshot beside it.
      ctx.sync.refreshInPlace();
    } else {
      ctx.sync.resync('reset');
    }
  }

  function onPing() {
    const now = Date.now();
    if (session.lastPingAt) session.pingGapMs = now - session.lastPingAt;
    session.lastPingAt = now;
    heard();
  }

  function onError(err, context) {
    // With an error listener the client no longer logs; keep our own failures visible.
    if (context?.kind !== 'connection') console.error('parkstream:', err, context);
    if (err && (err.status === 401 || err.status === 403)) ctx.access.denied(err.status);
  }

  /** Without the client module (or when it cannot open a stream) the page polls instead. */
  function fallBackToPolling() {
    ctx.view.setConnection({ state: 'disconnected', info: null, syncing: false });
    ctx.sync.schedulePoll();
  }

  function start(lastEventId) {
    stop();
    if (!session.createSSEClient) {
      fallBackToPolling();
      return;
    }
    const c = session.createSSEClient({
      url: STREAM_URL,
      lastEventId: lastEventId ?? undefined,
      // No accessToken: the cookie goes with the EventSource request (same origin), and a token
      // in the stream URL would end up in access logs.
      reconnectDelay: RECONNECT_DELAY_MS,
      maxAttempts: MAX_ATTEMPTS,
      maxReconnectDelay: MAX_DELAY_MS,
    });
    session.client = c;
    // Callbacks of a client we have replaced are ignored.
    const mine =
      (fn) =>
      (...args) => {
        if (session.client === c) fn(...args);
      };
    c.onStateChange(mine(onStateChange));
    c.onConnected(mine(onConnected));
    c.onReset(mine(onReset));
    c.onPing(mine(onPing));
    c.onCapacityUpdate(mine(onCapacity));
    c.onAlert(mine(onAlert));
    c.onViolation(mine(onViolation));
    c.onError(mine(onError));
    try {
      c.connect();
    } catch (err) {
      console.error('parkstream: cannot open the stream', err);
      session.client = null;
      session.createSSEClient = null;
      fallBackToPolling();
    }
  }

  return { start, stop };
}
