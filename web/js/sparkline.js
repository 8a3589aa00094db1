// A small SVG step chart of a lot's occupancy over the last hour.
// Counts hold until they change, so the line is drawn as steps, extended to "now".

const NS = 'http://www.w3.org/2000/svg';
const W = 240;
const H = 40;
const PAD = 2;
/** With less known history than the window, the chart spans at least this much. */
const MIN_SPAN_MS = 60_000;

function svgEl(name, attrs = {}) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

export function createSparkline() {
  const svg = svgEl('svg', {
    class: 'spark',
    viewBox: `0 0 ${W} ${H}`,
    preserveAspectRatio: 'none',
    role: 'img',
    focusable: 'false',
  });
  svg.append(
    svgEl('line', { class: 'spark-threshold', x1: 0, x2: W, y1: 0, y2: 0, 'vector-effect': 'non-scaling-stroke' }),
    svgEl('path', { class: 'spark-area', d: '' }),
    svgEl('path', { class: 'spark-line', d: '', 'vector-effect': 'non-scaling-stroke' }),
  );
  return svg;
}

/**
 * Draws the series. While less than the window is known (no history endpoint, a new lot),
 * the chart spans what is known (at least MIN_SPAN_MS) rather than a sliver at the right.
 * Returns when the known history starts and whether the chart shows the full window.
 * @param {SVGSVGElement} svg from createSparkline
 * @param {{t:number, occupied:number, totalSlots:number}[]} series oldest first
 * @param {{totalSlots:number, occupied:number, warningThreshold:number, windowMs:number, now?:number, name:string}} opts
 */
export function updateSparkline(svg, series, opts) {
  const now = opts.now ?? Date.now();
  const points = series.filter((p) => p.t <= now);
  const windowStart = now - opts.windowMs;
  const firstKnown = points.length ? points[0].t : now;
  const start = Math.max(windowStart, Math.min(firstKnown, now - MIN_SPAN_MS));
  const span = now - start;
  // The current count holds until now.
  points.push({ t: now, occupied: opts.occupied, totalSlots: opts.totalSlots });

  let max = Math.max(1, opts.totalSlots || 0);
  for (const p of points) max = Math.max(max, p.occupied, p.totalSlots || 0);
  const x = (t) => ((Math.max(t, start) - start) / span) * W;
  const y = (v) => H - PAD - (v / max) * (H - 2 * PAD);

  let line = '';
  let first = true;
  for (const p of points) {
    const px = x(p.t).toFixed(1);
    const py = y(p.occupied).toFixed(1);
    if (first) {
      // Known history may start inside the window: the line starts where it does.
      line = `M${px} ${py}`;
      first = false;
    } else {
      line += ` H${px} V${py}`;
    }
  }
  line += ` H${W}`;
  const startX = x(points[0].t).toFixed(1);
  const area = `${line} V${H} H${startX} Z`;

  const [threshold, areaPath, linePath] = svg.children;
  linePath.setAttribute('d', line);
  areaPath.setAttribute('d', area);
  const ty = opts.totalSlots > 0 ? y(opts.warningThreshold * opts.totalSlots).toFixed(1) : -10;
  threshold.setAttribute('y1', ty);
  threshold.setAttribute('y2', ty);

  const values = points.map((p) => p.occupied);
  const low = Math.min(...values);
  const high = Math.max(...values);
  const full = start <= windowStart;
  const period = full ? 'over the last hour' : 'since it was first seen';
  svg.setAttribute(
    'aria-label',
    `Occupancy of ${opts.name} ${period}: between ${low} and ${high}, now ${opts.occupied} of ${opts.totalSlots}`,
  );
  return { since: firstKnown, full };
}
