// (Re)synchronisation: drop the stream, load a snapshot, subscribe again from it; retry a
// failed snapshot with backoff; poll without the client module; restart a stream gone silent.

import { MAX_ATTEMPTS, MAX_DELAY_MS, POLL_MS, RECONNECT_DELAY_MS } from './session.js';

/** @param {{view, session, snapshot, stream, access}} ctx see app.js */
export function createSync(ctx) {
  const { session } = ctx;

  /**
   * Drops the stream, reloads the snapshot and subscribes again from it. Concurrent calls
   * share one run.
   */
  function resync(reason, { manual = false } = {}) {
    clearTimeout(session.retryTimer);
    if (manual) session.snapshotFailures = 0;
    if (session.syncing) return session.syncing;
    session.syncing = (async () => {
      ctx.stream.stop();
      ctx.view.setConnection({ state: 'connecting', info: null, syncing: true });
      try {
        const snap = await ctx.snapshot.load();
        ctx.access.restored();
        ctx.snapshot.apply(snap);
        session.snapshotFailures = 0;
        session.syncing = null;
        ctx.stream.start(snap.lastEventId);
      } catch (err) {
        session.syncing = null;
        snapshotFailed(err);
      }
    })();
    document.body.dataset.lastSync = reason;
    return session.syncing;
  }

  async function refreshInPlace() {
    try {
      ctx.snapshot.apply(await ctx.snapshot.load());
    } catch {
      // The stream still runs; the next reset or reconnect tries again.
    }
  }

  function snapshotFailed(err) {
    if (err?.status === 401 || err?.status === 403) {
      ctx.access.denied(err.status);
      return;
    }
    session.snapshotFailures += 1;
    const failures = session.snapshotFailures;
    if (failures > MAX_ATTEMPTS) {
      ctx.view.setConnection({
        state: 'failed',
        info: { message: `${err?.message || 'The server could not be reached.'} Gave up after ${MAX_ATTEMPTS} attempts.` },
        syncing: false,
      });
      return;
    }
    const base = Math.min(RECONNECT_DELAY_MS * 2 ** (failures - 1), MAX_DELAY_MS);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    ctx.view.setConnection({
      state: 'reconnecting',
      info: { attempt: failures, maxAttempts: Number.isFinite(MAX_ATTEMPTS) ? MAX_ATTEMPTS : undefined, retryAt: Date.now() + delay },
      syncing: false,
    });
    session.retryTimer = setTimeout(() => resync('snapshot retry'), delay);
  }

  function schedulePoll() {
    clearTimeout(session.retryTimer);
    session.retryTimer = setTimeout(() => resync('poll'), POLL_MS);
  }

  // A stream that went silent (no event and no ping for three ping intervals) is dead even if
  // the browser has not noticed: start again. Armed only once the ping interval is known.
  function checkLiveness() {
    const { client } = session;
    if (!client || client.state !== 'connected' || !session.pingGapMs) return;
    if (Date.now() - session.lastHeardAt > Math.max(90_000, 3 * session.pingGapMs)) resync('stream silent');
  }

  /** The browser is back online: a stream that had stopped trying starts again. */
  function online() {
    if (session.accessProblem) return; // the network was not the problem
    const state = session.client?.state;
    if (!session.syncing && (!session.client || state === 'failed' || state === 'disconnected')) resync('online', { manual: true });
  }

  return { resync, refreshInPlace, schedulePoll, checkLiveness, online };
}
