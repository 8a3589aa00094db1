// The alerts panel, most severe first: severity, type, lot (and contractor), the server's
// message (with the lot's figure now, for capacity alerts), status.

import { formatInt, humanize } from '../format.js';
import { isOpenAlert, mostUrgentFirst } from '../store.js';
import { h, setAge, setAttr, setText } from './dom.js';
import { createListPanel, createRowFoot, updateActions } from './items.js';
import { contractorName, lotName, setLotLabel, statusText, withLotName } from './names.js';
import { alertCounts } from './summary.js';

function createAlertRow(id) {
  const li = h('li', { class: 'item alert-row', 'data-testid': 'alert-row', dataset: { alertId: id } });
  const severity = h('span', { class: 'sev' });
  const title = h('span', { class: 'item-title' });
  const lotNameEl = h('span', {});
  const contractor = h('span', { class: 'item-contractor' });
  const lot = h('span', { class: 'item-lot' }, lotNameEl, contractor);
  const messageText = h('span', {});
  const now = h('span', { class: 'item-now', 'data-testid': 'alert-now', hidden: true });
  const message = h('p', { class: 'item-msg' }, messageText, now);
  const { foot, ...end } = createRowFoot('alert');
  li.append(h('p', { class: 'item-head' }, severity, title, lot), message, foot, end.error);
  return Object.assign(li, { parts: { severity, title, lotName: lotNameEl, contractor, message: messageText, now, ...end } });
}

/** Alerts about a lot's count: their message carries the count when raised. */
export const CAPACITY_ALERTS = new Set(['capacity_warning', 'capacity_breach']);

/**
 * Beside the figure the message gave when the alert was raised, the lot's figure now
 * ("now 132/120"), kept live by the lot's count (render.js redraws the alerts when a lot with
 * an open capacity alert changes). Open alerts only: a resolved one is history.
 */
function setNow(el, store, a) {
  const lot = CAPACITY_ALERTS.has(a.type) && isOpenAlert(a) ? store.lots.get(a.parkingLotId) : null;
  el.hidden = !lot;
  if (!lot) return;
  setText(el, `now ${formatInt(lot.occupied)}/${formatInt(lot.totalSlots)}`);
  setAttr(el, 'title', `${lotName(store, a.parkingLotId)} holds ${formatInt(lot.occupied)} vehicles in ${formatInt(lot.totalSlots)} slots now`);
}

/** Whether an open capacity alert shows the figure of one of `lotIds` (null: of any lot). */
export function showsLotFigure(store, lotIds) {
  for (const a of store.alerts.values()) {
    if (CAPACITY_ALERTS.has(a.type) && isOpenAlert(a) && (lotIds == null || lotIds.includes(a.parkingLotId))) return true;
  }
  return false;
}

function updateAlertRow(state, li, a) {
  const { store } = state;
  const p = li.parts;
  setAttr(li, 'data-status', a.status);
  setAttr(li, 'data-severity', a.severity);
  setText(p.severity, humanize(a.severity));
  p.severity.className = `sev sev-${a.severity}`;
  setText(p.title, humanize(a.type));
  setLotLabel(p.lotName, store, a.parkingLotId);
  // No break before the dot: a wrapped line never starts with "·".
  const contractor = contractorName(store, a.contractorId);
  setText(p.contractor, a.contractorId ? `\u00a0· ${contractor}` : '');
  setAttr(p.contractor, 'title', a.contractorId && contractor !== a.contractorId ? a.contractorId : null);
  p.contractor.hidden = !a.contractorId;
  setText(p.message, withLotName(store, a.message, a.parkingLotId));
  setNow(p.now, store, a);
  setAge(p.age, a.createdAt);
  setText(p.status, statusText(a.status, a.status === 'acknowledged' ? a.acknowledgedAt : a.status === 'resolved' ? a.resolvedAt : null));
  p.status.className = `status status-${a.status}`;
  updateActions(state, p, 'alert', a._id, {
    canAck: a.status === 'active',
    canResolve: a.status !== 'resolved',
    context: `${humanize(a.type)}, ${lotName(store, a.parkingLotId)}`,
  });
}

/** @param {(id: string, action: string) => void} onAction */
export function createAlertsPanel(state, onAction) {
  return createListPanel({
    kind: 'alert',
    items: () => state.store.alerts,
    available: () => state.store.available.alerts,
    isOpen: isOpenAlert,
    order: mostUrgentFirst,
    counts: () => alertCounts(state.store),
    createRow: createAlertRow,
    updateRow: (li, alert) => updateAlertRow(state, li, alert),
    onAction,
  });
}
