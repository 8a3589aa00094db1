// The lot detail: clicking a lot card (or its History button) opens a panel with the lot's
// stored occupancy (docs/protocol.md, "Stored occupancy history"): the last 24 hours in
// 5-minute steps from the per-minute rollups, the last 7 days from the hourly ones, and the
// busiest hours of the day over those 7 days (js/busiest.js).
//
// `setOverlay(fn)` is the hook for more series on the 24-hour chart (js/tools.js sets the
// forecast, js/forecast-overlay.js):
// `fn(lotId, {from, to})` resolves to `[{name, className?, points: [{t, value}]}]`, drawn as
// lines over the counts; nothing is drawn while no overlay is set.

import { busiestHours, hourRange } from '../busiest.js';
import { createChart, drawChart, toPoints } from '../chart.js';
import { formatPercent } from '../format.js';
import { $, h, setText } from './dom.js';
import { lotName } from './names.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const DAY_STEP = 5 * MINUTE;

/** @param {{api, store}} ctx see app.js */
export function createLotDetail(ctx) {
  const panel = $('#lot-detail');
  const heading = $('#lot-detail-h');
  const status = $('#lot-detail-status');
  const dayChart = createChart('Last 24 hours');
  const weekChart = createChart('Last 7 days');
  const busiest = $('#busiest-hours');
  $('#lot-day-chart').append(dayChart);
  $('#lot-week-chart').append(weekChart);
  dayChart.dataset.testid = 'day-chart';
  weekChart.dataset.testid = 'week-chart';
  let current = null;
  let overlay = null;
  let asked = 0;

  async function load(lotId) {
    const mine = ++asked;
    const to = Date.now();
    const dayFrom = to - DAY;
    const weekFrom = to - 7 * DAY;
    const iso = (t) => new Date(t).toISOString();
    const [day, week, extra] = await Promise.all([
      ctx.api.occupancyRange(lotId, iso(dayFrom), iso(to), '1m'),
      ctx.api.occupancyRange(lotId, iso(weekFrom), iso(to), '1h'),
      overlay ? Promise.resolve(overlay(lotId, { from: dayFrom, to })).catch(() => []) : [],
    ]);
    if (mine !== asked) return;
    const lot = ctx.store.lots.get(lotId);
    const totalSlots = lot?.totalSlots ?? 0;
    const name = lotName(ctx.store, lotId);
    drawChart(dayChart, toPoints(day.data.buckets, DAY_STEP), {
      from: dayFrom, to, totalSlots, ticks: 'hours', name: `${name}, last 24 hours`, extra,
    });
    drawChart(weekChart, toPoints(week.data.buckets, HOUR, { value: 'mean' }), {
      from: weekFrom, to, totalSlots, ticks: 'days', name: `${name}, last 7 days (hourly mean)`,
    });
    const top = busiestHours(week.data.buckets, { to });
    busiest.replaceChildren(
      ...top.map((b) =>
        h('li', { 'data-testid': 'busiest-hour', dataset: { hour: b.hour } }, h('strong', {}, hourRange(b.hour)), ` ${formatPercent(b.rate)} occupied on average`),
      ),
    );
    if (!top.length) busiest.replaceChildren(h('li', { class: 'muted' }, 'No counts stored in the last 7 days.'));
    setText(status, '');
  }

  async function open(lotId) {
    current = lotId;
    panel.hidden = false;
    panel.dataset.lotId = lotId;
    setText(heading, `${lotName(ctx.store, lotId)}: occupancy history`);
    setText(status, 'Loading the stored history…');
    heading.focus();
    try {
      await load(lotId);
    } catch (err) {
      if (current === lotId) setText(status, `The history could not be read: ${err.message}`);
    }
  }

  function close() {
    const lotId = current;
    current = null;
    asked++;
    panel.hidden = true;
    document.querySelector(`[data-testid="lot-card"][data-lot-id="${CSS.escape(lotId ?? '')}"] [data-testid="lot-details"]`)?.focus();
  }

  $('#lot-list').addEventListener('click', (event) => {
    const card = event.target.closest('[data-testid="lot-card"]');
    if (card && !event.target.closest('a')) open(card.dataset.lotId);
  });
  $('#lot-detail-close').addEventListener('click', close);
  $('#lot-detail-refresh').addEventListener('click', () => current && open(current));

  return {
    open,
    close,
    /** @param {null | ((lotId: string, range: {from: number, to: number}) => Promise<object[]>)} fn */
    setOverlay(fn) {
      overlay = fn;
      if (current) open(current);
    },
  };
}
