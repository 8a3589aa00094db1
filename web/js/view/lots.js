// The lots panel: one card per lot (occupancy, level, free slots, active alerts, the last
// hour's sparkline, "full in ~N min" from the forecast), in natural order of name.

import { createForecastText, trackForecast } from '../forecast.js';
import { formatClock, formatInt, formatPercent, naturalCompare } from '../format.js';
import { createSparkline, updateSparkline } from '../sparkline.js';
import { HISTORY_WINDOW, historyOf } from '../store.js';
import { $, ageTime, h, reorder, setAge, setAttr, setText } from './dom.js';

const LEVEL_TEXT = { ok: 'Available', warn: 'Near full', full: 'Full', over: 'Over capacity' };

export function lotLevel(lot) {
  if (lot.totalSlots > 0 && lot.occupied > lot.totalSlots) return 'over';
  if (lot.totalSlots > 0 && lot.occupied >= lot.totalSlots) return 'full';
  if (lot.totalSlots > 0 && lot.occupancyRate >= lot.warningThreshold) return 'warn';
  return 'ok';
}

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
  const forecast = createForecastText();
  const spark = createSparkline();
  const sparkCaption = h('figcaption', { class: 'muted' }, 'Last hour');
  const details = h('button', { type: 'button', class: 'btn btn-small lot-details', 'data-testid': 'lot-details' }, 'History');
  const li = h(
    'li',
    { class: 'lot-card', 'data-testid': 'lot-card', dataset: { lotId: id } },
    h('div', { class: 'lot-head' }, name, badge),
    h('p', { class: 'lot-count' }, occupied, h('span', { class: 'muted' }, ' occupied'), percent),
    bar,
    h('p', { class: 'lot-meta muted' }, free, alerts, forecast, h('span', { class: 'lot-updated' }, 'updated ', updated)),
    h('figure', { class: 'spark-wrap' }, sparkCaption, spark),
    // Opens the lot detail (view/lot-detail.js), as a click anywhere on the card does.
    details,
  );
  return { li, name, details, badge, occupied, percent, bar, fill, mark, free, updated, alerts, forecast, spark, sparkCaption };
}

function updateLotCard(store, card, lot, alertCounts, now) {
  const level = lotLevel(lot);
  setAttr(card.li, 'data-level', level);
  setText(card.name, lot.name);
  setAttr(card.name, 'title', lot.parkingLotId);
  setAttr(card.details, 'aria-label', `Occupancy history of ${lot.name}`);
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
  trackForecast(lot.parkingLotId, card.forecast);
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

function openAlertsByLot(store) {
  const counts = new Map();
  for (const a of store.alerts.values()) {
    if (a.status === 'active') counts.set(a.parkingLotId, (counts.get(a.parkingLotId) || 0) + 1);
  }
  return counts;
}

function sortedLots(store) {
  return [...store.lots.values()].sort(
    (a, b) => naturalCompare(a.name, b.name) || naturalCompare(a.parkingLotId, b.parkingLotId),
  );
}

export function createLotsPanel({ store }) {
  const list = $('#lot-list');
  const empty = $('#lots-empty');
  /** lot id -> the card's elements */
  const cards = new Map();
  /** lot id -> name as last drawn, to tell when other panels must redraw the names they show */
  const drawnNames = new Map();

  /**
   * @param {Set<string>|null} only the lots to refresh, or null for all
   * @returns {boolean} whether a lot's name changed
   */
  function render(only) {
    const alertCounts = openAlertsByLot(store);
    const now = Date.now();
    let structural = only === null;
    for (const id of only ?? store.lots.keys()) {
      const lot = store.lots.get(id);
      if (!lot) continue;
      let card = cards.get(id);
      if (!card) {
        card = createLotCard(id);
        cards.set(id, card);
        structural = true;
      }
      updateLotCard(store, card, lot, alertCounts, now);
    }
    if (structural) {
      for (const [id, card] of cards) {
        if (!store.lots.has(id)) {
          card.li.remove();
          cards.delete(id);
        }
      }
      reorder(list, sortedLots(store).map((lot) => cards.get(lot.parkingLotId).li));
      // Every card's alert count may have changed.
      if (only !== null) for (const lot of store.lots.values()) updateLotCard(store, cards.get(lot.parkingLotId), lot, alertCounts, now);
    }
    empty.hidden = store.lots.size > 0;
    let renamed = false;
    for (const lot of store.lots.values()) {
      if (drawnNames.get(lot.parkingLotId) !== lot.name) {
        drawnNames.set(lot.parkingLotId, lot.name);
        renamed = true;
      }
    }
    return renamed;
  }

  return { render };
}
