// An SVG chart of one lot's stored occupancy over a range (the lot detail, view/lot-detail.js):
// a step line of the counts (a count holds until the next), a band from the lowest to the
// highest count of each step, the lot's size, time ticks, and any extra series drawn over it
// as plain lines (`extra`: the hook for a forecast curve on the 24-hour chart). Like
// sparkline.js, built with DOM calls only (no markup strings), so the page's CSP holds.

const NS = 'http://www.w3.org/2000/svg';
const W = 720;
const H = 180;
const PAD = { left: 34, right: 8, top: 8, bottom: 20 };

function svgEl(name, attrs = {}) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export function createChart(label) {
  return svgEl('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', focusable: 'false', 'aria-label': label });
}

/**
 * Groups rollup buckets into steps of `stepMs` (e.g. per-minute buckets into 5 minutes): the
 * last count of each step, and its lowest and highest.
 * @param {{t:string, min:number, max:number, last:number, mean:number, totalSlots:number}[]} buckets oldest first
 * @returns {{t:number, value:number, low:number, high:number, totalSlots:number}[]}
 */
export function toPoints(buckets, stepMs, { value = 'last' } = {}) {
  const points = [];
  for (const b of buckets) {
    const at = Date.parse(b.t);
    if (!Number.isFinite(at)) continue;
    const t = Math.floor(at / stepMs) * stepMs;
    const last = points[points.length - 1];
    if (last && last.t === t) {
      last.value = b[value];
      last.low = Math.min(last.low, b.min);
      last.high = Math.max(last.high, b.max);
      last.totalSlots = b.totalSlots;
    } else {
      points.push({ t, value: b[value], low: b.min, high: b.max, totalSlots: b.totalSlots });
    }
  }
  return points;
}

/**
 * Draws `points` over [from, to].
 * @param {SVGSVGElement} svg from createChart
 * @param {{t:number, value:number, low?:number, high?:number, totalSlots?:number}[]} points oldest first
 * @param {{from:number, to:number, totalSlots:number, ticks:'hours'|'days', name:string,
 *          extra?: {name:string, className?:string, testid?:string,
 *                   points:{t:number, value:number, low?:number, high?:number}[]}[]}} opts
 *   `extra`: more series drawn as lines on the same axes (a forecast, say), each labelled;
 *   points with `low` and `high` get a band; a series reaching past `to` widens the time axis
 *   to its last point (the counts still end at `to`)
 * @returns {number} how many points of the main series were drawn
 */
export function drawChart(svg, points, opts) {
  const { from, to } = opts;
  const extra = opts.extra ?? [];
  const shown = points.filter((p) => p.t < to && p.t + 1 > from);
  let end = to;
  for (const s of extra) for (const p of s.points) end = Math.max(end, p.t);
  let max = Math.max(1, opts.totalSlots || 0);
  for (const p of shown) max = Math.max(max, p.high ?? p.value, p.totalSlots || 0);
  for (const s of extra) for (const p of s.points) max = Math.max(max, p.high ?? p.value);
  const x = (t) => PAD.left + ((Math.min(Math.max(t, from), end) - from) / (end - from)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);

  const parts = [];
  // Axes: 0 and the lot's size (or the highest count), and the time ticks.
  for (const v of [0, max]) {
    parts.push(svgEl('line', { class: 'chart-grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    const label = svgEl('text', { class: 'chart-label', x: PAD.left - 4, y: y(v) + 4, 'text-anchor': 'end' });
    label.textContent = String(v);
    parts.push(label);
  }
  for (const t of ticks(from, end, opts.ticks)) {
    parts.push(svgEl('line', { class: 'chart-tick', x1: x(t), x2: x(t), y1: PAD.top, y2: H - PAD.bottom }));
    const label = svgEl('text', { class: 'chart-label', x: x(t), y: H - 5, 'text-anchor': 'middle' });
    label.textContent = tickLabel(t, opts.ticks);
    parts.push(label);
  }

  if (shown.length) {
    // Each step holds until the next one starts; the last holds to the end of the range.
    let line = '';
    let band = '';
    shown.forEach((p, i) => {
      const x0 = x(p.t).toFixed(1);
      const x1 = x(i + 1 < shown.length ? shown[i + 1].t : to).toFixed(1);
      const yv = y(p.value).toFixed(1);
      line += `${i === 0 ? 'M' : 'V'}${i === 0 ? `${x0} ${yv}` : yv} H${x1} `;
      if (p.low != null && p.high != null) {
        band += `M${x0} ${y(p.high).toFixed(1)} H${x1} V${y(p.low).toFixed(1)} H${x0} Z `;
      }
    });
    parts.push(svgEl('path', { class: 'chart-band', d: band.trim() }));
    parts.push(svgEl('path', { class: 'chart-line', d: line.trim(), 'data-testid': 'chart-line' }));
  }
  for (const series of extra) {
    const inRange = series.points.filter((p) => p.t >= from && p.t <= end);
    const banded = inRange.filter((p) => p.low != null && p.high != null);
    if (banded.length > 1) {
      const upper = banded.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)} ${y(p.high).toFixed(1)}`);
      const lower = [...banded].reverse().map((p) => `L${x(p.t).toFixed(1)} ${y(p.low).toFixed(1)}`);
      parts.push(svgEl('path', { class: 'chart-extra-band', d: `${[...upper, ...lower].join(' ')} Z` }));
    }
    const d = inRange.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)} ${y(p.value).toFixed(1)}`).join(' ');
    const path = svgEl('path', { class: `chart-extra ${series.className ?? ''}`.trim(), d });
    path.dataset.points = String(inRange.length);
    if (series.testid) path.dataset.testid = series.testid;
    const title = svgEl('title');
    title.textContent = series.name;
    path.append(title);
    parts.push(path);
  }
  svg.replaceChildren(...parts);
  svg.dataset.points = String(shown.length);

  const lows = shown.map((p) => p.low ?? p.value);
  const highs = shown.map((p) => p.high ?? p.value);
  svg.setAttribute(
    'aria-label',
    shown.length
      ? `${opts.name}: between ${Math.min(...lows)} and ${Math.max(...highs)} of ${opts.totalSlots}`
      : `${opts.name}: no counts stored in this range`,
  );
  return shown.length;
}

function ticks(from, to, kind) {
  const out = [];
  const start = new Date(from);
  if (kind === 'days') {
    start.setHours(24, 0, 0, 0);
    for (let d = start; d.getTime() < to; d.setDate(d.getDate() + 1)) out.push(d.getTime());
  } else {
    start.setMinutes(0, 0, 0);
    start.setHours(Math.floor(start.getHours() / 6) * 6 + 6);
    for (let d = start; d.getTime() < to; d.setHours(d.getHours() + 6)) out.push(d.getTime());
  }
  return out;
}

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric' });
const hourFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

function tickLabel(t, kind) {
  return kind === 'days' ? dayFormat.format(t) : hourFormat.format(t);
}
