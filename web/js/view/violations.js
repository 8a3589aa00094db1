// The violations panel: the type and lot, then the facts that apply (the vehicle, the
// contractor, how far over, how long stayed, the penalty, how long a breach lasted), status.

import { formatDuration, formatInt, formatMoney, humanize, plural } from '../format.js';
import { currencyOf } from '../identity.js';
import { isOpenViolation } from '../store.js';
import { h, setAge, setAttr, setText } from './dom.js';
import { createListPanel, createRowFoot, updateActions } from './items.js';
import { contractorName, lotName, setLotLabel, statusText } from './names.js';
import { violationCounts } from './summary.js';

/** A violation about one vehicle (it carries `plateNumber`), rather than a contractor's count. */
const VEHICLE_VIOLATIONS = new Set(['unauthorized_vehicle', 'overparking']);

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
    penalty: fact('Penalty', { class: 'num', 'data-testid': 'violation-penalty' }),
    lasted: fact('Lasted'),
  };
  const plate = h('span', { class: 'plate' });
  const { foot, ...end } = createRowFoot('violation');
  li.append(
    h('p', { class: 'item-head' }, title, lot),
    h('dl', { class: 'facts' }, ...Object.values(facts).map((f) => f.row)),
    foot,
    end.error,
  );
  return Object.assign(li, { parts: { title, lot, facts, plate, ...end } });
}

/** Who a violation is about: its contractor's name, or the vehicle for one no one registered. */
function violationSubject(store, v) {
  if (v.contractorId) return contractorName(store, v.contractorId);
  if (VEHICLE_VIOLATIONS.has(v.violationType)) return 'Unregistered vehicle';
  return '—';
}

function updateViolationRow(state, li, v) {
  const { store } = state;
  const p = li.parts;
  const f = p.facts;
  const d = v.details || {};
  const type = v.violationType;
  const perVehicle = VEHICLE_VIOLATIONS.has(type);
  setAttr(li, 'data-status', v.status);
  setAttr(li, 'data-type', type);
  setText(p.title, humanize(type));
  setLotLabel(p.lot, store, v.parkingLotId);

  // The vehicle (unauthorized, overparking): its plate.
  const plateNumber = typeof v.plateNumber === 'string' && v.plateNumber ? v.plateNumber : null;
  if (plateNumber) setText(p.plate, plateNumber);
  setFact(f.vehicle, plateNumber ? p.plate : perVehicle ? 'not shown' : null);

  setFact(f.contractor, violationSubject(store, v));
  const contractor = contractorName(store, v.contractorId);
  setAttr(f.contractor.dd, 'title', v.contractorId && contractor !== v.contractorId ? v.contractorId : null);
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
  // In the server's currency (`--currency`, told by GET /api/session) when it has one.
  setFact(f.penalty, v.penalty == null ? null : penalty === 0 ? 'none' : formatMoney(penalty, currencyOf(store.identity)));
  f.penalty.dd.classList.toggle('muted', penalty === 0);

  // A capacity breach: its length, once it has ended.
  const lasted = !perVehicle && Number(d.duration) > 0 ? formatDuration(Number(d.duration)) : null;
  setFact(f.lasted, lasted);

  setAge(p.age, v.timestamp);
  setText(p.status, statusText(v.status));
  p.status.className = `status status-${v.status}`;
  updateActions(state, p, 'violation', v._id, {
    canAck: v.status === 'pending',
    canResolve: v.status !== 'resolved',
    context: [humanize(type), plateNumber, violationSubject(store, v), lotName(store, v.parkingLotId)].filter(Boolean).join(', '),
  });
}

/** @param {(id: string, action: string) => void} onAction */
export function createViolationsPanel(state, onAction) {
  return createListPanel({
    kind: 'violation',
    items: () => state.store.violations,
    available: () => state.store.available.violations,
    isOpen: isOpenViolation,
    counts: () => violationCounts(state.store),
    createRow: createViolationRow,
    updateRow: (li, violation) => updateViolationRow(state, li, violation),
    onAction,
  });
}
