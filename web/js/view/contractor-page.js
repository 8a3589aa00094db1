// A contractor's own page: with a contractor's token (`GET /api/session` says `contractor`)
// the dashboard shows its layout (view/layout.js) with this panel on top: its lots, its
// allocation in each against its vehicles inside now, those vehicles and how long they have
// stayed (`GET /api/contractors/{id}/vehicles`), and its penalties this month so far (its
// statement). Its violations are the violations panel, which the server already limits to
// its own, as it limits lots and alerts; nothing here names another contractor.

import { formatDuration, formatInt, formatMoney, plural } from '../format.js';
import { contractorOf, currencyOf } from '../identity.js';
import { monthSoFar, periodOf } from '../period.js';
import { $, ageTime, h, setText } from './dom.js';
import { lotName } from './names.js';

/** At most one refresh per this long, however many gate events arrive. */
const REFRESH_GAP_MS = 2000;

/** @param {{api, store, view}} ctx see app.js */
export function createContractorPage(ctx) {
  const panel = $('#contractor-page');
  const heading = $('#contractor-h');
  const lotsBody = $('#contractor-lots tbody');
  const vehiclesBody = $('#contractor-vehicles tbody');
  const vehiclesEmpty = $('#contractor-vehicles-empty');
  const penalties = $('#contractor-penalties');
  const status = $('#contractor-status');
  let timer = 0;
  let last = 0;

  function lotRow(lot) {
    const over = lot.vehiclesInside > lot.allocatedCapacity;
    return h(
      'tr',
      { 'data-testid': 'contractor-lot', dataset: { lotId: lot.parkingLotId, over: String(over) } },
      h('th', { scope: 'row', title: lot.parkingLotId }, lotName(ctx.store, lot.parkingLotId)),
      h('td', { class: 'num' }, formatInt(lot.allocatedCapacity)),
      h('td', { class: 'num' }, formatInt(lot.vehiclesInside)),
      h('td', { class: over ? 'over' : 'muted' }, over ? `${plural(lot.vehiclesInside - lot.allocatedCapacity, 'vehicle')} over` : `${formatInt(lot.allocatedCapacity - lot.vehiclesInside)} left`),
    );
  }

  function vehicleRow(v, now) {
    return h(
      'tr',
      { 'data-testid': 'contractor-vehicle', dataset: { plate: v.plate, lotId: v.lot } },
      h('th', { scope: 'row' }, h('span', { class: 'plate' }, v.plate)),
      h('td', { title: v.lot }, lotName(ctx.store, v.lot)),
      h('td', {}, ageTime(v.since)),
      h('td', { class: 'num' }, formatDuration((now - Date.parse(v.since)) / 1000)),
    );
  }

  async function load(id) {
    const month = monthSoFar();
    const period = periodOf(month.from, month.to);
    const [vehicles, statement] = await Promise.allSettled([
      ctx.api.contractorVehicles(id),
      ctx.api.statement(id, period.from, period.to),
    ]);
    if (contractorOf(ctx.store.identity) !== id) return;
    if (vehicles.status === 'fulfilled') {
      const data = vehicles.value.data;
      const now = Date.now();
      setText(heading, `${data.name}: your lots and vehicles`);
      // Its own name, for its alerts and violations (the list of contractors is admin-only).
      if (ctx.store.contractors.get(id) !== data.name) {
        ctx.store.contractors.set(id, data.name);
        ctx.view.alertsChanged();
        ctx.view.violationsChanged();
      }
      lotsBody.replaceChildren(...data.lots.map(lotRow));
      vehiclesBody.replaceChildren(...data.vehicles.map((v) => vehicleRow(v, now)));
      vehiclesEmpty.hidden = data.vehicles.length > 0;
      setText(status, '');
    } else {
      setText(status, `Your vehicles could not be read: ${vehicles.reason?.message}`);
    }
    if (statement.status === 'fulfilled') {
      const s = statement.value.data;
      const currency = s.currency ?? currencyOf(ctx.store.identity);
      setText(penalties, `This month so far: ${plural(s.violations.length, 'violation')}, penalties ${formatMoney(s.totals.penalty, currency)}.`);
    }
  }

  /** Shows or hides the page for the token now known, and reads it again (at most every 2 s). */
  function refresh() {
    const id = contractorOf(ctx.store.identity);
    panel.hidden = !id;
    if (!id) return;
    clearTimeout(timer);
    const wait = Math.max(0, last + REFRESH_GAP_MS - Date.now());
    timer = setTimeout(() => {
      last = Date.now();
      load(id).catch((err) => setText(status, `Your page could not be read: ${err.message}`));
    }, wait);
  }

  return { refresh };
}
