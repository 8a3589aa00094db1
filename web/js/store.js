// The dashboard's copy of the server's state, and the rules for changing it.
// Plain data and functions, no DOM: the renderer reads this, app.js feeds it.

export const HISTORY_MINUTES = 60;
export const FEED_LIMIT = 50;
/** Resolved items kept (newest) for the "All recent" views; open ones are always kept. */
const RESOLVED_KEEP = 50;
/** One sparkline point per bucket: the last count seen in it. */
const HISTORY_BUCKET_MS = 15_000;
const HISTORY_WINDOW_MS = HISTORY_MINUTES * 60_000;

// Status only moves forward (active -> acknowledged -> resolved). A copy that would move it
// back is older than what we hold (e.g. an action's answer arriving after the broadcast of a
// later change) and is ignored.
const ALERT_RANK = { active: 0, acknowledged: 1, resolved: 2 };
const VIOLATION_RANK = { pending: 0, acknowledged: 1, resolved: 2 };

export const isOpenAlert = (a) => a.status !== 'resolved';
export const isOpenViolation = (v) => v.status !== 'resolved';

export function createStore() {
  return {
    /** @type {Map<string, object>} lot id -> lot view (the shape of GET /api/lots, docs/protocol.md "REST") */
    lots: new Map(),
    /** @type {Map<string, object>} _id -> alert */
    alerts: new Map(),
    /** @type {Map<string, object>} _id -> violation */
    violations: new Map(),
    /** newest first, at most FEED_LIMIT */
    feed: [],
    feedSeq: 0,
    /** @type {Map<string, {t:number, occupied:number, totalSlots:number}[]>} oldest first */
    history: new Map(),
    /** @type {Map<string, string>} contractor id -> name, when the token may read them */
    contractors: new Map(),
    /** when the last domain event arrived (ms) */
    lastEventAt: null,
    /** What the token may do and the currency of penalties (identity.js); null: not known */
    identity: null,
    /** false when the server has no such endpoint (yet): the lists say so instead of "none" */
    available: { alerts: true, violations: true },
  };
}

const rateOf = (occupied, totalSlots) => (totalSlots > 0 ? occupied / totalSlots : 0);

function normalizeLot(raw, previous) {
  const totalSlots = Number(raw.totalSlots ?? previous?.totalSlots ?? 0);
  const occupied = Number(raw.occupied ?? previous?.occupied ?? 0);
  return {
    parkingLotId: raw.parkingLotId,
    name: raw.name ?? previous?.name ?? raw.parkingLotId,
    totalSlots,
    occupied,
    empty: Math.max(totalSlots - occupied, 0),
    occupancyRate: Number.isFinite(raw.occupancyRate) ? raw.occupancyRate : rateOf(occupied, totalSlots),
    warningThreshold: Number(raw.warningThreshold ?? previous?.warningThreshold ?? 0.9),
    maxStaySeconds: raw.maxStaySeconds ?? previous?.maxStaySeconds ?? null,
    timestamp: raw.timestamp ?? previous?.timestamp ?? null,
    // A lot we learnt of from an event only: its name and threshold are worth fetching.
    partial: raw.name == null && (previous ? previous.partial : true),
  };
}

/** Replaces every lot with a snapshot (`GET /api/lots`). */
export function setLots(store, list) {
  const next = new Map();
  const items = Array.isArray(list) ? list : Array.isArray(list?.lots) ? list.lots : [];
  for (const raw of items) {
    if (!raw || typeof raw.parkingLotId !== 'string') continue;
    const lot = normalizeLot(raw, store.lots.get(raw.parkingLotId));
    next.set(lot.parkingLotId, lot);
    addHistoryPoint(store, lot.parkingLotId, lot.timestamp, lot.occupied, lot.totalSlots);
  }
  store.lots = next;
}

/** Merges one lot's full view (`GET /api/lots/{id}`). */
export function mergeLot(store, raw) {
  if (!raw || typeof raw.parkingLotId !== 'string') return;
  const previous = store.lots.get(raw.parkingLotId);
  // Keep the live count if it is newer than this answer could know about.
  const lot = normalizeLot({ ...raw, ...(previous ? pickCounts(previous) : {}) }, previous);
  lot.partial = false;
  store.lots.set(lot.parkingLotId, lot);
}

const pickCounts = (lot) => ({
  occupied: lot.occupied,
  totalSlots: lot.totalSlots,
  occupancyRate: lot.occupancyRate,
  timestamp: lot.timestamp,
});

/**
 * Applies a `capacity_update`. Returns `{ lot, isNew, feedRow }`; `feedRow` is set when a
 * gate event caused it.
 */
export function applyCapacity(store, data, meta = {}) {
  const lotId = data.parkingLotId;
  const previous = store.lots.get(lotId);
  const lot = normalizeLot(
    {
      parkingLotId: lotId,
      totalSlots: data.totalSlots,
      occupied: data.occupied,
      occupancyRate: data.occupancyRate,
      timestamp: data.timestamp,
    },
    previous,
  );
  store.lots.set(lotId, lot);
  addHistoryPoint(store, lotId, data.timestamp, lot.occupied, lot.totalSlots);

  let feedRow = null;
  if (data.event === 'vehicle_entry' || data.event === 'vehicle_exit') {
    feedRow = {
      key: meta.id ? `e${meta.id}` : `l${++store.feedSeq}`,
      at: data.timestamp,
      event: data.event,
      plateNumber: data.plateNumber ?? '',
      gateId: data.gateId ?? null,
      lotId,
      duration: Number.isFinite(data.duration) ? data.duration : null,
    };
    if (store.feed.some((row) => row.key === feedRow.key)) {
      feedRow = null; // the same event, replayed
    } else {
      store.feed.unshift(feedRow);
      if (store.feed.length > FEED_LIMIT) store.feed.length = FEED_LIMIT;
    }
  }
  return { lot, isNew: !previous, feedRow };
}

function upsert(map, item, rank, isOpen) {
  if (!item || typeof item._id !== 'string') return { changed: false };
  const previous = map.get(item._id);
  if (previous && (rank[item.status] ?? 0) < (rank[previous.status] ?? 0)) {
    return { changed: false, item: previous, previous };
  }
  const next = previous ? { ...previous, ...item } : item;
  map.set(item._id, next);
  prune(map, isOpen);
  return { changed: true, item: next, previous };
}

function prune(map, isOpen) {
  let closed = 0;
  for (const item of map.values()) if (!isOpen(item)) closed += 1;
  if (closed <= RESOLVED_KEEP * 2) return;
  const stale = [...map.values()]
    .filter((item) => !isOpen(item))
    .sort((a, b) => sortTime(b) - sortTime(a))
    .slice(RESOLVED_KEEP);
  for (const item of stale) map.delete(item._id);
}

export const upsertAlert = (store, alert) => upsert(store.alerts, alert, ALERT_RANK, isOpenAlert);
export const upsertViolation = (store, violation) =>
  upsert(store.violations, violation, VIOLATION_RANK, isOpenViolation);

/** Replaces the alerts with a snapshot (several lists, e.g. one per status). */
export function setAlerts(store, ...lists) {
  store.alerts = new Map();
  for (const list of lists) for (const alert of list || []) upsertAlert(store, alert);
}

export function setViolations(store, ...lists) {
  store.violations = new Map();
  for (const list of lists) for (const violation of list || []) upsertViolation(store, violation);
}

/** The time an alert or violation is sorted and aged by. */
export function sortTime(item) {
  const t = Date.parse(item.createdAt ?? item.timestamp ?? '');
  return Number.isNaN(t) ? 0 : t;
}

const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };

/**
 * Alerts as an operator works through them: the most severe first and, within a severity,
 * the OLDEST first, since the alert that has waited longest is the one to handle next (a
 * newest-first list would bury an unhandled critical under every newer one). Resolved alerts
 * ("All recent") follow every open one, so a finished critical never sits above an open low.
 * Ties by id so the order is stable.
 */
export function mostUrgentFirst(alerts) {
  const rank = (a) => (a.status === 'resolved' ? 10 : 0) + (SEVERITY_RANK[a.severity] ?? 4);
  return [...alerts].sort((a, b) => rank(a) - rank(b) || sortTime(a) - sortTime(b) || (a._id < b._id ? -1 : 1));
}

/** Newest first; ties by id so the order is stable. */
export function newestFirst(items) {
  return [...items].sort((a, b) => sortTime(b) - sortTime(a) || (a._id < b._id ? 1 : -1));
}

// --- Occupancy history (sparklines) -------------------------------------------------------

export function addHistoryPoint(store, lotId, timestamp, occupied, totalSlots) {
  let t = Date.parse(timestamp ?? '');
  if (Number.isNaN(t)) t = Date.now();
  let series = store.history.get(lotId);
  if (!series) {
    series = [];
    store.history.set(lotId, series);
  }
  const point = { t, occupied, totalSlots };
  const last = series[series.length - 1];
  if (last && t < last.t) {
    // An observation older than what we hold (reported late): keep the series in time order.
    const at = series.findIndex((p) => p.t > t);
    series.splice(at, 0, point);
  } else if (last && Math.floor(last.t / HISTORY_BUCKET_MS) === Math.floor(t / HISTORY_BUCKET_MS)) {
    series[series.length - 1] = point;
  } else {
    series.push(point);
  }
  trimHistory(series);
}

function trimHistory(series, now = Date.now()) {
  const cutoff = now - HISTORY_WINDOW_MS - HISTORY_BUCKET_MS;
  // Keep one point before the window so the line starts at its left edge.
  let drop = 0;
  while (drop < series.length - 1 && series[drop + 1].t < cutoff) drop += 1;
  if (drop) series.splice(0, drop);
}

/**
 * Replaces the history with `GET /api/history/occupancy` (`{"lots": {"lot_1": [{t, occupied,
 * totalSlots}]}}`), keeping live points newer than what it returned.
 */
export function setHistory(store, body) {
  const lots = body && typeof body === 'object' ? body.lots : null;
  if (!lots || typeof lots !== 'object') return;
  for (const [lotId, points] of Object.entries(lots)) {
    if (!Array.isArray(points)) continue;
    const series = points
      .map((p) => ({ t: Date.parse(p.t), occupied: Number(p.occupied), totalSlots: Number(p.totalSlots) }))
      .filter((p) => !Number.isNaN(p.t) && Number.isFinite(p.occupied))
      .sort((a, b) => a.t - b.t);
    const newest = series.length ? series[series.length - 1].t : -Infinity;
    for (const p of store.history.get(lotId) || []) if (p.t > newest) series.push(p);
    trimHistory(series);
    store.history.set(lotId, series);
  }
}

/** The points inside the last hour (plus the one just before it), oldest first. */
export function historyOf(store, lotId) {
  const series = store.history.get(lotId) || [];
  trimHistory(series);
  return series;
}

export const HISTORY_WINDOW = HISTORY_WINDOW_MS;
