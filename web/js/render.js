// Everything that touches the DOM. The renderer reads the store and updates the page in
// place (keyed rows, no innerHTML of data), batched to one pass per animation frame, so a
// burst of events costs one layout and focus stays where the operator left it.

import {
  formatAge,
  formatClock,
  formatDuration,
  formatFull,
  formatInt,
  formatPercent,
  humanize,
  naturalCompare,
} from './format.js';
import { createSparkline, updateSparkline } from './sparkline.js';
import { HISTORY_WINDOW, historyOf, isOpenAlert, isOpenViolation, newestFirst } from './store.js';

/** Creates an element: h('p', {class: 'x', dataset: {a: 1}}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child != null) el.append(child);
  return el;
}

const $ = (selector, root = document) => root.querySelector(selector);

function setText(el, text) {
  const value = String(text ?? '');
  if (el.textContent !== value) el.textContent = value;
}

function setAttr(el, name, value) {
  if (value == null) el.removeAttribute(name);
  else if (el.getAttribute(name) !== String(value)) el.setAttribute(name, String(value));
}

/** A `<time>` that the age ticker keeps current ("3 min ago"). */
function ageTime(value) {
  const el = h('time', { class: 'age' });
  setAge(el, value);
  return el;
}

function setAge(el, value) {
  setAttr(el, 'datetime', value || null);
  setAttr(el, 'title', formatFull(value) || null);
  el.dataset.age = value || '';
  setText(el, formatAge(value));
}

/** Puts `rows` into `list` in order, moving only what is out of place. */
function reorder(list, rows) {
  let cursor = list.firstElementChild;
  for (const row of rows) {
    if (row === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      list.insertBefore(row, cursor);
    }
  }
}

/** Removes a row; if focus was inside it, moves focus somewhere sensible first. */
function removeRow(row, fallback) {
  if (row.contains(document.activeElement)) {
    const neighbour = row.nextElementSibling || row.previousElementSibling;
    const target = neighbour?.querySelector('button:not([hidden]):not([disabled])') || fallback;
    target?.focus();
  }
  row.remove();
}

const LEVEL_TEXT = { ok: 'Available', warn: 'Near full', full: 'Full', over: 'Over capacity' };

export function lotLevel(lot) {
  if (lot.totalSlots > 0 && lot.occupied > lot.totalSlots) return 'over';
  if (lot.totalSlots > 0 && lot.occupied >= lot.totalSlots) return 'full';
  if (lot.totalSlots > 0 && lot.occupancyRate >= lot.warningThreshold) return 'warn';
  return 'ok';
}

const STATE_TEXT = {
  idle: 'Starting…',
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting',
  disconnected: 'Disconnected',
  failed: 'Offline',
  unauthorized: 'Sign-in required',
  forbidden: 'Not allowed',
};

/** A violation about one vehicle (it carries `plateNumber`), rather than a contractor's count. */
const VEHICLE_VIOLATIONS = new Set(['unauthorized_vehicle', 'overparking']);

function plural(n, one, many = `${one}s`) {
  return `${formatInt(n)} ${n === 1 ? one : many}`;
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * @param {object} store see store.js
 * @param {{alertAction(id, action), violationAction(id, action), retry()}} handlers
 */
export function createRenderer(store, handlers) {
  const ui = {
    status: $('[data-testid="connection-status"]'),
    statusLabel: $('#conn-label'),
    statusDetail: $('#conn-detail'),
    retry: $('#conn-retry'),
    lastEvent: $('[data-testid="last-event-time"]'),
    lastEventAge: $('#last-event-age'),
    banner: $('#banner'),
    announcer: $('#announcer'),
    summary: $('#summary'),
    staleNote: $('#stale-note'),
    lotList: $('#lot-list'),
    lotsEmpty: $('#lots-empty'),
    alertList: $('#alert-list'),
    alertsEmpty: $('#alerts-empty'),
    alertsHeading: $('#alerts-h'),
    alertCount: $('#alert-count'),
    alertFilter: $('#alert-filter'),
    violationList: $('#violation-list'),
    violationsEmpty: $('#violations-empty'),
    violationsHeading: $('#violations-h'),
    violationCount: $('#violation-count'),
    violationFilter: $('#violation-filter'),
    feed: $('#feed'),
    feedEmpty: $('#feed-empty'),
    feedPause: $('#feed-pause'),
    feedHeld: $('#feed-held'),
    accessNote: $('#access-note'),
    accessHeading: $('#access-h'),
    accessText: $('#access-text'),
    accessHint: $('#access-hint'),
    accessRetry: $('#access-retry'),
  };

  const lotCards = new Map(); // lot id -> {li, ...parts}
  const alertRows = new Map(); // _id -> li
  const violationRows = new Map();
  const feedRows = new Map(); // key -> li
  /** `${kind}:${id}` -> action in flight */
  const pending = new Map();
  /** `${kind}:${id}` -> message of the last failed action */
  const rowErrors = new Map();

  let connection = { state: 'idle', info: null, syncing: false };
  /** When the page was last known to be live (the stream dropped then). */
  let liveUntil = 0;
  let feedPaused = false;
  let heldRows = 0;

  // --- batching -----------------------------------------------------------------------------
  const dirty = { lots: new Set(), allLots: false, alerts: false, violations: false, feed: false, summary: false };
  let frame = 0;
  function schedule() {
    if (!frame) frame = requestAnimationFrame(flush);
  }
  function flush() {
    frame = 0;
    if (dirty.allLots || dirty.lots.size) renderLots(dirty.allLots ? null : dirty.lots);
    if (dirty.alerts) renderAlerts();
    if (dirty.violations) renderViolations();
    if (dirty.feed) renderFeed();
    if (dirty.summary) renderSummary();
    dirty.lots = new Set();
    dirty.allLots = dirty.alerts = dirty.violations = dirty.feed = dirty.summary = false;
  }

  // --- lots -------------------------------------------------------------------------------------
  /** The lot's name when the dashboard knows it (GET /api/lots), else its id. */
  function lotName(id) {
    return store.lots.get(id)?.name || id || '—';
  }

  /** Shows a lot's name in `el`, with its id as the tooltip (as on the lot cards). */
  function setLotLabel(el, id) {
    setText(el, lotName(id));
    setAttr(el, 'title', id && lotName(id) !== id ? id : null);
  }

  /** Server messages name a lot by id ("… in lot depot, …"): say its name instead. */
  function withLotName(message, id) {
    const name = store.lots.get(id)?.name;
    if (!message || !id || !name || name === id) return message || '';
    return message.replace(new RegExp(`\\blot ${escapeRegExp(id)}(?![\\w-])`, 'g'), name);
  }

  /** id -> name as last drawn; when one changes, the rows that name lots are redrawn too. */
  const drawnNames = new Map();

  function createLotCard(id) {
    const name = h('h3', { class: 'lot-name' });
    const badge = h('span', { class: 'lot-badge' });
    const occupied = h('span', { class: 'lot-occupied', 'data-testid': 'lot-occupied' });
    const percent = h('span', { class: 'lot-percent' });
    const fill = h('div', { class: 'bar-fill' });
    const mark = h('div', { class: 'bar-threshold', 'aria-hidden': 'true' });
    const bar = h('div', { class: 'bar', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100 }, fill, mark);
    const free = h('span', { class: 'lot-free' });
    const updated = ageTime(null);
    const alerts = h('span', { class: 'lot-alerts' });
    const spark = createSparkline();
    const sparkCaption = h('figcaption', { class: 'muted' }, 'Last hour');
    const li = h(
      'li',
      { class: 'lot-card', 'data-testid': 'lot-card', dataset: { lotId: id } },
      h('div', { class: 'lot-head' }, name, badge),
      h('p', { class: 'lot-count' }, occupied, h('span', { class: 'muted' }, ' occupied'), percent),
      bar,
      h('p', { class: 'lot-meta muted' }, free, alerts, h('span', { class: 'lot-updated' }, 'updated ', updated)),
      h('figure', { class: 'spark-wrap' }, sparkCaption, spark),
    );
    return { li, name, badge, occupied, percent, bar, fill, mark, free, updated, alerts, spark, sparkCaption };
  }

  function openAlertsByLot() {
    const counts = new Map();
    for (const a of store.alerts.values()) {
      if (a.status === 'active') counts.set(a.parkingLotId, (counts.get(a.parkingLotId) || 0) + 1);
    }
    return counts;
  }

  function updateLotCard(card, lot, alertCounts, now) {
    const level = lotLevel(lot);
    setAttr(card.li, 'data-level', level);
    setText(card.name, lot.name);
    setAttr(card.name, 'title', lot.parkingLotId);
    setText(card.badge, LEVEL_TEXT[level]);
    setText(card.occupied, `${lot.occupied} / ${lot.totalSlots}`);
    setText(card.percent, formatPercent(lot.occupancyRate));
    const pct = Math.round(Math.min(lot.occupancyRate, 1) * 100);
    card.fill.style.width = `${pct}%`;
    card.mark.style.left = `${Math.min(lot.warningThreshold, 1) * 100}%`;
    setAttr(card.bar, 'aria-valuenow', pct);
    setAttr(card.bar, 'aria-valuetext', `${formatPercent(lot.occupancyRate)} occupied, ${LEVEL_TEXT[level].toLowerCase()}`);
    setAttr(card.bar, 'aria-label', `Occupancy of ${lot.name}`);
    setText(card.free, `${formatInt(lot.empty)} free`);
    const n = alertCounts.get(lot.parkingLotId) || 0;
    setText(card.alerts, n ? `${n} active alert${n === 1 ? '' : 's'}` : '');
    card.alerts.hidden = n === 0;
    setAge(card.updated, lot.timestamp);
    const drawn = updateSparkline(card.spark, historyOf(store, lot.parkingLotId), {
      totalSlots: lot.totalSlots,
      occupied: lot.occupied,
      warningThreshold: lot.warningThreshold,
      windowMs: HISTORY_WINDOW,
      now,
      name: lot.name,
    });
    setText(card.sparkCaption, drawn.full ? 'Last hour' : `Since ${formatClock(drawn.since)}`);
  }

  function sortedLots() {
    return [...store.lots.values()].sort(
      (a, b) => naturalCompare(a.name, b.name) || naturalCompare(a.parkingLotId, b.parkingLotId),
    );
  }

  /** @param {Set<string>|null} only the lots to refresh, or null for all */
  function renderLots(only) {
    const alertCounts = openAlertsByLot();
    const now = Date.now();
    let structural = only === null;
    for (const id of only ?? store.lots.keys()) {
      const lot = store.lots.get(id);
      if (!lot) continue;
      let card = lotCards.get(id);
      if (!card) {
        card = createLotCard(id);
        lotCards.set(id, card);
        structural = true;
      }
      updateLotCard(card, lot, alertCounts, now);
    }
    if (structural) {
      for (const [id, card] of lotCards) {
        if (!store.lots.has(id)) {
          card.li.remove();
          lotCards.delete(id);
        }
      }
      reorder(ui.lotList, sortedLots().map((lot) => lotCards.get(lot.parkingLotId).li));
      // Every card's alert count may have changed.
      if (only !== null) for (const lot of store.lots.values()) updateLotCard(lotCards.get(lot.parkingLotId), lot, alertCounts, now);
    }
    ui.lotsEmpty.hidden = store.lots.size > 0;
    let renamed = false;
    for (const lot of store.lots.values()) {
      if (drawnNames.get(lot.parkingLotId) !== lot.name) {
        drawnNames.set(lot.parkingLotId, lot.name);
        renamed = true;
      }
    }
    if (renamed) {
      // Picked up later in this same flush (see flush's order).
      dirty.alerts = dirty.violations = dirty.feed = true;
    }
    renderSummary();
  }

  function renderSummary() {
    let occupied = 0;
    let total = 0;
    for (const lot of store.lots.values()) {
      occupied += lot.occupied;
      total += lot.totalSlots;
    }
    const parts = [plural(store.lots.size, 'lot'), `${formatInt(occupied)} / ${formatInt(total)} occupied`];
    // The same numbers and words as the badges beside the Alerts and Violations headings.
    if (store.available.alerts) parts.push(`Alerts: ${openCountText(alertCounts(), ', ')}`);
    if (store.available.violations) parts.push(`Violations: ${openCountText(violationCounts(), ', ')}`);
    setText(ui.summary, parts.join(' · '));
  }

  function countByStatus(items) {
    const counts = {};
    for (const item of items) counts[item.status] = (counts[item.status] || 0) + 1;
    return counts;
  }

  /** Open alerts: `[[count, 'active'], [count, 'acknowledged']]`. */
  function alertCounts() {
    const c = countByStatus(store.alerts.values());
    return [
      [c.active || 0, 'active'],
      [c.acknowledged || 0, 'acknowledged'],
    ];
  }

  function violationCounts() {
    const c = countByStatus(store.violations.values());
    return [
      [c.pending || 0, 'pending'],
      [c.acknowledged || 0, 'acknowledged'],
    ];
  }

  /** "3 active, 1 acknowledged"; "2 pending"; "1 acknowledged"; "none open" (as the badges). */
  function openCountText(counts, separator) {
    const [[first, firstLabel], [acked, ackLabel]] = counts;
    if (!first && !acked) return 'none open';
    const parts = [];
    if (first) parts.push(`${formatInt(first)} ${firstLabel}`);
    if (acked) parts.push(`${formatInt(acked)} ${ackLabel}`);
    return parts.join(separator);
  }

  /** The heading badge: a pill per open status, with the same words as the summary. */
  function renderCount(el, counts) {
    const [[first, firstLabel], [acked, ackLabel]] = counts;
    const key = `${first}:${acked}`;
    el.hidden = !first && !acked;
    if (el.dataset.key === key) return;
    el.dataset.key = key;
    const pills = [];
    if (first) pills.push(h('span', { class: `count-part count-${firstLabel}` }, `${formatInt(first)} ${firstLabel}`));
    if (acked) pills.push(h('span', { class: 'count-part count-acknowledged' }, `${formatInt(acked)} ${ackLabel}`));
    // A separator that screen readers say and eyes do not need (the pills are apart).
    if (pills.length === 2) pills.splice(1, 0, h('span', { class: 'visually-hidden' }, ', '));
    el.replaceChildren(...pills);
  }

  // --- alerts & violations ---------------------------------------------------------------------
  function actionButton(testid, action, label) {
    return h('button', { type: 'button', class: `btn btn-${action}`, 'data-testid': testid, dataset: { action } }, label);
  }

  function createAlertRow(id) {
    const li = h('li', { class: 'item alert-row', 'data-testid': 'alert-row', dataset: { alertId: id } });
    const severity = h('span', { class: 'sev' });
    const title = h('span', { class: 'item-title' });
    const lotNameEl = h('span', {});
    const contractor = h('span', { class: 'item-contractor' });
    const lot = h('span', { class: 'item-lot' }, lotNameEl, contractor);
    const message = h('p', { class: 'item-msg' });
    const age = ageTime(null);
    const status = h('span', { class: 'status' });
    const ack = actionButton('alert-ack', 'acknowledge', 'Acknowledge');
    const resolve = actionButton('alert-resolve', 'resolve', 'Resolve');
    const error = h('p', { class: 'row-error', role: 'alert', hidden: true });
    li.append(
      h('p', { class: 'item-head' }, severity, title, lot),
      message,
      h('div', { class: 'item-foot' }, h('p', { class: 'item-meta muted' }, age, status), h('div', { class: 'actions' }, ack, resolve)),
      error,
    );
    return Object.assign(li, { parts: { severity, title, lotName: lotNameEl, contractor, message, age, status, ack, resolve, error } });
  }

  function updateAlertRow(li, a) {
    const p = li.parts;
    const key = `alert:${a._id}`;
    setAttr(li, 'data-status', a.status);
    setAttr(li, 'data-severity', a.severity);
    setText(p.severity, humanize(a.severity));
    p.severity.className = `sev sev-${a.severity}`;
    setText(p.title, humanize(a.type));
    setLotLabel(p.lotName, a.parkingLotId);
    // No break before the dot: a wrapped line never starts with "·".
    setText(p.contractor, a.contractorId ? `\u00a0· ${contractorName(a.contractorId)}` : '');
    setAttr(p.contractor, 'title', a.contractorId && contractorName(a.contractorId) !== a.contractorId ? a.contractorId : null);
    p.contractor.hidden = !a.contractorId;
    setText(p.message, withLotName(a.message, a.parkingLotId));
    setAge(p.age, a.createdAt);
    setText(p.status, statusText(a.status, a.status === 'acknowledged' ? a.acknowledgedAt : a.status === 'resolved' ? a.resolvedAt : null));
    p.status.className = `status status-${a.status}`;
    const busy = pending.get(key);
    const context = `${humanize(a.type)}, ${lotName(a.parkingLotId)}`;
    showButtons(p, a.status === 'active', a.status !== 'resolved', busy);
    setText(p.ack, busy === 'acknowledge' ? 'Acknowledging…' : 'Acknowledge');
    setText(p.resolve, busy === 'resolve' ? 'Resolving…' : 'Resolve');
    setAttr(p.ack, 'aria-label', `Acknowledge alert: ${context}`);
    setAttr(p.resolve, 'aria-label', `Resolve alert: ${context}`);
    const err = rowErrors.get(key);
    p.error.hidden = !err;
    setText(p.error, err || '');
  }

  /** One `<dt>`/`<dd>` pair of a violation's facts; hidden when it does not apply. */
  function fact(label, ddAttrs = {}) {
    const dd = h('dd', ddAttrs);
    return { row: h('div', {}, h('dt', {}, label), dd), dd };
  }

  /** `value`: text, an element to show, or null to hide the fact. */
  function setFact(f, value) {
    const show = value != null && value !== '';
    f.row.hidden = !show;
    if (!show) return;
    if (typeof value === 'string') setText(f.dd, value);
    else if (f.dd.firstChild !== value || f.dd.childNodes.length !== 1) f.dd.replaceChildren(value);
  }

  function createViolationRow(id) {
    const li = h('li', { class: 'item violation-row', 'data-testid': 'violation-row', dataset: { violationId: id } });
    const title = h('span', { class: 'item-title' });
    const lot = h('span', { class: 'item-lot' });
    const facts = {
      vehicle: fact('Vehicle', { 'data-testid': 'violation-plate' }),
      contractor: fact('Contractor'),
      excess: fact('Excess'),
      stayed: fact('Stayed'),
      penalty: fact('Penalty', { class: 'num' }),
      lasted: fact('Lasted'),
    };
    const plate = h('span', { class: 'plate' });
    const status = h('span', { class: 'status' });
    const age = ageTime(null);
    const ack = actionButton('violation-ack', 'acknowledge', 'Acknowledge');
    const resolve = actionButton('violation-resolve', 'resolve', 'Resolve');
    const error = h('p', { class: 'row-error', role: 'alert', hidden: true });
    li.append(
      h('p', { class: 'item-head' }, title, lot),
      h('dl', { class: 'facts' }, ...Object.values(facts).map((f) => f.row)),
      h('div', { class: 'item-foot' }, h('p', { class: 'item-meta muted' }, age, status), h('div', { class: 'actions' }, ack, resolve)),
      error,
    );
    return Object.assign(li, { parts: { title, lot, facts, plate, status, age, ack, resolve, error } });
  }

  /** Who a violation is about: its contractor's name, or the vehicle for one no one registered. */
  function violationSubject(v) {
    if (v.contractorId) return contractorName(v.contractorId);
    if (VEHICLE_VIOLATIONS.has(v.violationType)) return 'Unregistered vehicle';
    return '—';
  }

  function updateViolationRow(li, v) {
    const p = li.parts;
    const f = p.facts;
    const key = `violation:${v._id}`;
    const d = v.details || {};
    const type = v.violationType;
    const perVehicle = VEHICLE_VIOLATIONS.has(type);
    setAttr(li, 'data-status', v.status);
    setAttr(li, 'data-type', type);
    setText(p.title, humanize(type));
    setLotLabel(p.lot, v.parkingLotId);

    // The vehicle (unauthorized, overparking): its plate.
    const plateNumber = typeof v.plateNumber === 'string' && v.plateNumber ? v.plateNumber : null;
    if (plateNumber) setText(p.plate, plateNumber);
    setFact(f.vehicle, plateNumber ? p.plate : perVehicle ? 'not shown' : null);

    setFact(f.contractor, violationSubject(v));
    setAttr(f.contractor.dd, 'title', v.contractorId && contractorName(v.contractorId) !== v.contractorId ? v.contractorId : null);
    f.contractor.dd.classList.toggle('muted', !v.contractorId);

    // A contractor over its allocation: how far over. For one vehicle the allocation figures
    // describe the lot, not this vehicle, so they are not shown.
    let excess = null;
    if (!perVehicle && Number.isFinite(d.excessVehicles)) {
      excess = plural(Number(d.excessVehicles), 'vehicle');
      if (Number.isFinite(d.actualOccupancy) && Number.isFinite(d.allocatedCapacity)) {
        excess += ` (${formatInt(d.actualOccupancy)} of ${formatInt(d.allocatedCapacity)} allowed)`;
      }
    }
    setFact(f.excess, excess);

    // Overparking: how long the vehicle stayed (so far), against the lot's limit.
    let stayed = null;
    if (type === 'overparking' && Number.isFinite(d.duration)) {
      stayed = formatDuration(Number(d.duration));
      const limit = Number(store.lots.get(v.parkingLotId)?.maxStaySeconds);
      if (limit > 0) stayed += ` (limit ${formatDuration(limit)})`;
    }
    setFact(f.stayed, stayed);

    const penalty = Number(v.penalty);
    setFact(f.penalty, v.penalty == null ? null : penalty === 0 ? 'none' : formatInt(penalty));
    f.penalty.dd.classList.toggle('muted', penalty === 0);

    // A capacity breach: its length, once it has ended.
    const lasted = !perVehicle && Number(d.duration) > 0 ? formatDuration(Number(d.duration)) : null;
    setFact(f.lasted, lasted);

    setAge(p.age, v.timestamp);
    setText(p.status, statusText(v.status));
    p.status.className = `status status-${v.status}`;
    const busy = pending.get(key);
    const context = [humanize(type), plateNumber, violationSubject(v), lotName(v.parkingLotId)].filter(Boolean).join(', ');
    showButtons(p, v.status === 'pending', v.status !== 'resolved', busy);
    setText(p.ack, busy === 'acknowledge' ? 'Acknowledging…' : 'Acknowledge');
    setText(p.resolve, busy === 'resolve' ? 'Resolving…' : 'Resolve');
    setAttr(p.ack, 'aria-label', `Acknowledge violation: ${context}`);
    setAttr(p.resolve, 'aria-label', `Resolve violation: ${context}`);
    const err = rowErrors.get(key);
    p.error.hidden = !err;
    setText(p.error, err || '');
  }

  /**
   * Shows or hides a row's two actions. Buttons in flight are marked aria-disabled rather than
   * disabled, so they keep focus; a focused "Acknowledge" that goes away hands focus to
   * "Resolve".
   */
  function showButtons(p, canAck, canResolve, busy) {
    const focused = document.activeElement;
    if (!canAck && p.ack === focused && canResolve) p.resolve.focus();
    else if (!canResolve && (p.ack === focused || p.resolve === focused)) {
      p.ack.closest('section')?.querySelector('h2')?.focus();
    }
    p.ack.hidden = !canAck;
    p.resolve.hidden = !canResolve;
    setAttr(p.ack, 'aria-disabled', busy ? 'true' : null);
    setAttr(p.resolve, 'aria-disabled', busy ? 'true' : null);
  }

  function contractorName(id) {
    if (!id) return '—';
    return store.contractors.get(id) || id;
  }

  function statusText(status, since) {
    const text = humanize(status);
    return since ? `${text} ${formatClock(since)}` : text;
  }

  function renderList({ items, isOpen, filter, rows, list, empty, count, counts, create, update, heading, noun, available }) {
    const showAll = filter.value === 'all';
    const open = items.filter(isOpen);
    const visible = newestFirst(showAll ? items : open);
    const keep = new Set(visible.map((item) => item._id));
    for (const [id, row] of rows) {
      if (!keep.has(id)) {
        removeRow(row, heading);
        rows.delete(id);
      }
    }
    const ordered = visible.map((item) => {
      let row = rows.get(item._id);
      if (!row) {
        row = create(item._id);
        rows.set(item._id, row);
      }
      update(row, item);
      return row;
    });
    reorder(list, ordered);
    empty.hidden = visible.length > 0;
    if (!available) setText(empty, `This server does not provide ${noun}s yet.`);
    else setText(empty, showAll ? `No ${noun}s yet.` : `No open ${noun}s.`);
    renderCount(count, counts);
  }

  function renderAlerts() {
    renderList({
      items: [...store.alerts.values()],
      isOpen: isOpenAlert,
      filter: ui.alertFilter,
      rows: alertRows,
      list: ui.alertList,
      empty: ui.alertsEmpty,
      count: ui.alertCount,
      counts: alertCounts(),
      create: createAlertRow,
      update: updateAlertRow,
      heading: ui.alertsHeading,
      noun: 'alert',
      available: store.available.alerts,
    });
  }

  function renderViolations() {
    renderList({
      items: [...store.violations.values()],
      isOpen: isOpenViolation,
      filter: ui.violationFilter,
      rows: violationRows,
      list: ui.violationList,
      empty: ui.violationsEmpty,
      count: ui.violationCount,
      counts: violationCounts(),
      create: createViolationRow,
      update: updateViolationRow,
      heading: ui.violationsHeading,
      noun: 'violation',
      available: store.available.violations,
    });
  }

  // --- feed ---------------------------------------------------------------------------------------
  const feedSeparator = () => h('span', { class: 'muted' }, '\u00a0· ');

  function createFeedRow(row) {
    const entry = row.event === 'vehicle_entry';
    const lot = h('span', { class: 'feed-lot' });
    setLotLabel(lot, row.lotId);
    // A contractor's token does not see other contractors' plates: the update comes without
    // one, and the row says "vehicle".
    const plate = row.plateNumber
      ? h('span', { class: 'plate' }, row.plateNumber)
      : h('span', { class: 'plate plate-hidden', title: 'Plate not shown to this account' }, 'vehicle');
    const li = h(
      'li',
      { class: `feed-row ${entry ? 'is-entry' : 'is-exit'}`, 'data-testid': 'feed-row', dataset: { event: row.event } },
      h('time', { class: 'feed-time', datetime: row.at || null, title: formatFull(row.at) || null }, formatClock(row.at)),
      h('span', { class: 'feed-dir' }, h('span', { 'aria-hidden': 'true' }, entry ? '→ ' : '← '), entry ? 'Entry' : 'Exit'),
      plate,
      h(
        'span',
        { class: 'feed-where' },
        lot,
        // Lines break after a dot, never inside "gate north" or "parked 2 min 5 s".
        row.gateId ? feedSeparator() : null,
        row.gateId ? h('span', { class: 'muted nowrap' }, `gate ${row.gateId}`) : null,
        row.duration != null ? feedSeparator() : null,
        row.duration != null ? h('span', { class: 'feed-duration' }, `parked ${formatDuration(row.duration)}`) : null,
      ),
    );
    return Object.assign(li, { lot, lotId: row.lotId });
  }

  function renderFeed() {
    if (feedPaused) return;
    const keep = new Set(store.feed.map((row) => row.key));
    for (const [key, li] of feedRows) {
      if (!keep.has(key)) {
        li.remove();
        feedRows.delete(key);
      }
    }
    const ordered = store.feed.map((row) => {
      let li = feedRows.get(row.key);
      if (!li) {
        li = createFeedRow(row);
        feedRows.set(row.key, li);
      } else {
        setLotLabel(li.lot, li.lotId); // the lot's name may have arrived since
      }
      return li;
    });
    reorder(ui.feed, ordered);
    ui.feedEmpty.hidden = store.feed.length > 0;
  }

  function setFeedPaused(paused) {
    feedPaused = paused;
    heldRows = 0;
    ui.feedPause.setAttribute('aria-pressed', String(paused));
    ui.feedPause.textContent = paused ? 'Resume' : 'Pause';
    ui.feed.setAttribute('aria-live', paused ? 'off' : 'polite');
    ui.feedHeld.hidden = true;
    if (!paused) {
      dirty.feed = true;
      schedule();
    }
  }

  // --- connection, last event, messages -------------------------------------------------------
  function renderConnection() {
    const { state, syncing } = connection;
    setAttr(ui.status, 'data-state', state);
    setAttr(ui.status, 'data-syncing', syncing ? 'true' : null);
    // What is on screen may be out of date while the stream is down.
    const stale = state === 'reconnecting' || state === 'disconnected' || state === 'failed';
    document.body.classList.toggle('is-stale', stale);
    ui.staleNote.hidden = !stale || !liveUntil;
    if (stale && liveUntil) setText(ui.staleNote, `Not live: showing the state as of ${formatClock(liveUntil)}.`);
    let label = STATE_TEXT[state] || humanize(state);
    if (syncing && state !== 'reconnecting' && state !== 'failed') label = 'Loading latest state…';
    setText(ui.statusLabel, label);
    setText(ui.statusDetail, connectionDetail());
    // Unauthorized or forbidden: the access note in the page says what to do, with its own button.
    ui.retry.hidden = !(state === 'failed' || state === 'disconnected' || state === 'reconnecting');
    setText(ui.retry, state === 'reconnecting' ? 'Retry now' : 'Retry');
  }

  /**
   * Instead of the dashboard, what to do when the server refuses the token: 'signin' (401),
   * 'forbidden' (403 on reading), or null (access is fine again).
   */
  function setAccess(kind, { hadToken = false } = {}) {
    document.body.dataset.access = kind || '';
    if (!kind) {
      delete document.body.dataset.access;
      ui.accessNote.hidden = true;
      return;
    }
    if (kind === 'signin') {
      setText(ui.accessHeading, 'Sign-in required: open the link the server printed (it carries a token).');
      setText(
        ui.accessText,
        hadToken
          ? 'The server refused the token this browser has: it has expired, or it was made for another server.'
          : 'This server asks for an access token, and this browser has none.',
      );
      ui.accessHint.replaceChildren(
        h('code', {}, 'parkstream serve'),
        ' prints that link when it starts; an administrator can also make one with ',
        h('code', {}, 'parkstream token --role viewer'),
        '.',
      );
    } else {
      setText(ui.accessHeading, 'Not allowed for your role: this token cannot view the dashboard.');
      setText(ui.accessText, 'The server accepted the token, but its role does not include reading lots, alerts and violations.');
      setText(ui.accessHint, 'Ask an administrator for a link with a viewer, operator or admin token.');
    }
    const wasHidden = ui.accessNote.hidden;
    ui.accessNote.hidden = false;
    if (wasHidden && !ui.accessNote.contains(document.activeElement)) ui.accessHeading.focus({ preventScroll: true });
  }

  function connectionDetail() {
    const { state, info } = connection;
    if (state === 'reconnecting' && info) {
      const left = Math.max(0, Math.ceil((info.retryAt - Date.now()) / 1000));
      const attempt = info.attempt && info.maxAttempts ? ` · attempt ${info.attempt} of ${info.maxAttempts}` : info.attempt ? ` · attempt ${info.attempt}` : '';
      return (left > 0 ? `in ${left} s` : 'now…') + attempt;
    }
    if (state === 'failed') return info?.message || 'Gave up reconnecting.';
    if (state === 'disconnected') return 'Not receiving updates.';
    return '';
  }

  function renderLastEvent() {
    const at = store.lastEventAt;
    if (!at) {
      setText(ui.lastEvent, 'none yet');
      setAttr(ui.lastEvent, 'datetime', null);
      setText(ui.lastEventAge, '');
      return;
    }
    const iso = new Date(at).toISOString();
    setText(ui.lastEvent, formatClock(at));
    setAttr(ui.lastEvent, 'datetime', iso);
    setAttr(ui.lastEvent, 'title', formatFull(at));
    setText(ui.lastEventAge, `(${formatAge(at)})`);
  }

  let announceTimer = 0;
  function announce(text) {
    // Re-set after a tick so the same message twice is read twice.
    ui.announcer.textContent = '';
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => {
      ui.announcer.textContent = text;
    }, 50);
  }

  function showBanner(text, tone = 'error') {
    if (!text) {
      ui.banner.hidden = true;
      ui.banner.textContent = '';
      return;
    }
    ui.banner.dataset.tone = tone;
    setText(ui.banner, text);
    ui.banner.hidden = false;
  }

  // --- periodic refresh: ages, countdown, sparklines slide with time ---------------------------
  function tickFast() {
    if (connection.state === 'reconnecting') setText(ui.statusDetail, connectionDetail());
  }
  function tickAges() {
    const now = Date.now();
    for (const el of document.querySelectorAll('time[data-age]')) {
      if (el.dataset.age) setText(el, formatAge(el.dataset.age, now));
    }
    renderLastEvent();
  }
  setInterval(tickFast, 250);
  setInterval(tickAges, 5000);
  setInterval(() => {
    dirty.allLots = true;
    schedule();
  }, 30_000);

  // --- wiring -------------------------------------------------------------------------------------
  function onListClick(kind, rows) {
    return (event) => {
      const button = event.target.closest('button[data-action]');
      if (!button || button.getAttribute('aria-disabled') === 'true') return;
      const row = button.closest('li');
      const id = kind === 'alert' ? row?.dataset.alertId : row?.dataset.violationId;
      if (!id || rows.get(id) !== row) return;
      if (kind === 'alert') handlers.alertAction(id, button.dataset.action);
      else handlers.violationAction(id, button.dataset.action);
    };
  }
  ui.alertList.addEventListener('click', onListClick('alert', alertRows));
  ui.violationList.addEventListener('click', onListClick('violation', violationRows));
  ui.alertFilter.addEventListener('change', () => renderAlerts());
  ui.violationFilter.addEventListener('change', () => renderViolations());
  ui.retry.addEventListener('click', () => handlers.retry());
  ui.accessRetry.addEventListener('click', () => handlers.retry());
  ui.feedPause.addEventListener('click', () => setFeedPaused(!feedPaused));

  return {
    lotsChanged(ids) {
      if (ids == null) dirty.allLots = true;
      else for (const id of ids) dirty.lots.add(id);
      schedule();
    },
    alertsChanged() {
      dirty.alerts = true;
      dirty.allLots = true; // per-lot alert counts and names
      dirty.summary = true;
      schedule();
    },
    violationsChanged() {
      dirty.violations = true;
      dirty.summary = true;
      schedule();
    },
    feedChanged() {
      if (feedPaused) {
        heldRows += 1;
        ui.feedHeld.hidden = false;
        setText(ui.feedHeld, `${Math.min(heldRows, 50)}${heldRows > 50 ? '+' : ''} new while paused`);
        return;
      }
      dirty.feed = true;
      schedule();
    },
    everythingChanged() {
      dirty.allLots = dirty.alerts = dirty.violations = dirty.feed = dirty.summary = true;
      schedule();
    },
    setConnection(next) {
      if (connection.state === 'connected' && next.state !== 'connected') liveUntil = Date.now();
      connection = { ...connection, ...next };
      renderConnection();
    },
    eventReceived() {
      renderLastEvent();
    },
    setPending(kind, id, action) {
      const key = `${kind}:${id}`;
      if (action) pending.set(key, action);
      else pending.delete(key);
      if (action) rowErrors.delete(key);
      if (kind === 'alert') dirty.alerts = true;
      else dirty.violations = true;
      schedule();
    },
    setRowError(kind, id, message) {
      const key = `${kind}:${id}`;
      if (message) rowErrors.set(key, message);
      else rowErrors.delete(key);
      if (kind === 'alert') dirty.alerts = true;
      else dirty.violations = true;
      schedule();
    },
    announce,
    showBanner,
    setAccess,
    flushNow: flush,
  };
}
