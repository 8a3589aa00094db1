// "Find a vehicle": a plate (normalized as the server does, js/plate.js) looked up with
// `GET /api/vehicles/{plate}` (docs/protocol.md, "Vehicles"): inside now or not, where and
// since when, and its recent visits. A 404 is "not seen" (for a contractor that includes
// another contractor's plates: the server answers as if never seen); a 403 says the role may not.

import { formatDuration, formatFull } from '../format.js';
import { isPlate, normalizePlate } from '../plate.js';
import { $, ageTime, h, setText } from './dom.js';
import { lotName } from './names.js';

const VISITS_SHOWN = 10;

/** @param {{api, store}} ctx see app.js */
export function createVehicleSearch(ctx) {
  const form = $('#vehicle-form');
  const input = $('#vehicle-plate');
  const result = $('#vehicle-result');
  let asked = 0;

  function say(text, kind = 'info') {
    result.replaceChildren(h('p', { class: `lookup-note lookup-${kind}`, 'data-testid': 'vehicle-status' }, text));
  }

  function visitRow(store, v) {
    const stay = v.exit ? formatDuration(v.staySeconds) : 'inside';
    return h(
      'tr',
      { 'data-testid': 'vehicle-visit' },
      h('td', {}, lotName(store, v.lot)),
      h('td', {}, v.gate || '—'),
      h('td', { title: formatFull(v.entry) }, formatFull(v.entry)),
      h('td', { title: formatFull(v.exit) }, v.exit ? formatFull(v.exit) : '—'),
      h('td', { class: 'num' }, stay),
    );
  }

  function show(vehicle) {
    const { store } = ctx;
    const now = vehicle.inside
      ? h(
          'p',
          { class: 'lookup-note lookup-inside', 'data-testid': 'vehicle-status', dataset: { inside: 'true', lot: vehicle.lot } },
          h('span', { class: 'plate' }, vehicle.plate),
          ` is inside ${lotName(store, vehicle.lot)}`,
          vehicle.gate ? ` (gate ${vehicle.gate})` : '',
          ' since ',
          ageTime(vehicle.since),
        )
      : h(
          'p',
          { class: 'lookup-note', 'data-testid': 'vehicle-status', dataset: { inside: 'false' } },
          h('span', { class: 'plate' }, vehicle.plate),
          ' is not inside any lot now.',
        );
    const visits = (vehicle.visits || []).slice(0, VISITS_SHOWN);
    const table = visits.length
      ? h(
          'table',
          { class: 'table', 'data-testid': 'vehicle-visits' },
          h('caption', { class: 'muted' }, `Recent visits, newest first`),
          h('thead', {}, h('tr', {}, ...['Lot', 'Gate', 'Entry', 'Exit', 'Stay'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...visits.map((v) => visitRow(store, v))),
        )
      : null;
    result.replaceChildren(now, table ?? '');
  }

  async function lookUp(raw) {
    const plate = normalizePlate(raw);
    if (!plate) return say('Enter a plate number.', 'error');
    if (!isPlate(plate)) return say(`"${raw.trim()}" is not a plate: 1 to 16 letters and digits (spaces and dashes are ignored).`, 'error');
    const mine = ++asked;
    say(`Looking up ${plate}…`);
    try {
      const { data } = await ctx.api.vehicle(plate);
      if (mine === asked) show(data);
    } catch (err) {
      if (mine !== asked) return;
      if (err.status === 404) say(`${plate}: not seen. No gate has reported this vehicle${ctx.store.identity?.role === 'contractor' ? ' among your registered plates' : ''}.`, 'missing');
      else if (err.status === 403) say(`You may not look up vehicles: ${err.message}`, 'error');
      else say(`The lookup failed: ${err.message}`, 'error');
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    lookUp(input.value);
  });
  // What will be asked, as the server spells it.
  input.addEventListener('input', () => setText($('#vehicle-normalized'), normalizePlate(input.value) ? `as ${normalizePlate(input.value)}` : ''));

  return { lookUp };
}
