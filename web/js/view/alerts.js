// The alerts panel: severity, type, lot (and contractor), the server's message, status.

import { humanize } from '../format.js';
import { isOpenAlert } from '../store.js';
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
  const message = h('p', { class: 'item-msg' });
  const { foot, ...end } = createRowFoot('alert');
  li.append(h('p', { class: 'item-head' }, severity, title, lot), message, foot, end.error);
  return Object.assign(li, { parts: { severity, title, lotName: lotNameEl, contractor, message, ...end } });
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
    counts: () => alertCounts(state.store),
    createRow: createAlertRow,
    updateRow: (li, alert) => updateAlertRow(state, li, alert),
    onAction,
  });
}
