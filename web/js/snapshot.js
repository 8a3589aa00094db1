// The snapshot over REST: lots, alerts, violations and the occupancy history, with the
// oldest `Last-Event-ID` of its parts (the stream resumes from there, so nothing falls in
// between), and the lot and contractor details fetched once on demand.

import { oldestEventId } from './api.js';
import { readIdentity } from './identity.js';
import { CLIENT_URL, POLL_MS } from './session.js';
import { HISTORY_MINUTES, mergeLot, setAlerts, setHistory, setLots, setViolations } from './store.js';

const OPEN_LIMIT = 100;
const RECENT_LIMIT = 50;

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

/** @param {{api, store, view, session}} ctx see app.js */
export function createSnapshot(ctx) {
  const { api, store, session } = ctx;

  async function load() {
    const [lots, alerts, violations, history, identity] = await Promise.all([
      api.lots(), // required: a failure here fails the snapshot
      loadList('alerts', api.alerts, ['active', 'acknowledged']),
      loadList('violations', api.violations, ['pending', 'acknowledged']),
      api.lotHistory(HISTORY_MINUTES).then(
        (r) => r.data,
        () => null, // not there yet: sparklines start empty and grow live
      ),
      // Asked with every snapshot, so signing in again with another token (a new cookie, then
      // "Try again") shows what the new role may do. An older server without it: not known.
      api.session().then(
        (r) => ({ known: readIdentity(r.data) }),
        (err) => (err?.isMissing ? { known: null } : null), // another failure keeps what we had
      ),
    ]);
    return {
      lots: lots.data,
      alerts,
      violations,
      history,
      identity,
      lastEventId: oldestEventId([lots.lastEventId, ...alerts.ids, ...violations.ids]),
    };
  }

  function apply(snap) {
    setLots(store, snap.lots);
    if (snap.identity) store.identity = snap.identity.known;
    if (snap.history) setHistory(store, snap.history);
    const notes = session.createSSEClient ? [] : [`live updates are unavailable (${CLIENT_URL} did not load), so this page reloads every ${POLL_MS / 1000} s`];
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
    ctx.view.showBanner(text ? `${text[0].toUpperCase()}${text.slice(1)}.` : '', 'warn');
    ctx.view.everythingChanged();
    ctx.tools.snapshotApplied();
    if (!session.contractorsTried) loadContractors();
  }

  async function loadContractors() {
    session.contractorsTried = true;
    try {
      const { data } = await api.contractors();
      const list = Array.isArray(data) ? data : Array.isArray(data?.contractors) ? data.contractors : [];
      for (const c of list) {
        const id = c.contractorId ?? c.id ?? c._id;
        if (id && c.name) store.contractors.set(id, c.name);
      }
      if (list.length) {
        ctx.tools.snapshotApplied();
        ctx.view.alertsChanged();
        ctx.view.violationsChanged();
      }
    } catch {
      // Contractors are admin-only; without names the ids are shown.
    }
  }

  /** A lot first seen in an event: fetch its name and threshold once. */
  async function fetchLot(id) {
    if (session.lotsBeingFetched.has(id)) return;
    session.lotsBeingFetched.add(id);
    try {
      const { data } = await api.lot(id);
      mergeLot(store, data);
      ctx.view.lotsChanged([id]);
    } catch {
      // The card keeps the id as its name.
    }
  }

  return { load, apply, fetchLot };
}
