// "Busiest hours": the hours of the day with the highest mean occupancy rate over the stored
// hourly rollups (`GET /api/history/occupancy?step=1h`, docs/protocol.md "Stored occupancy
// history"), computed here in the browser. Pure functions, no DOM.
//
// Each hour of the range counts once, from the first stored bucket up to the hour in progress
// (counted with its mean so far): an hour with a bucket counts its `mean` (the mean of the
// counts reported in it) over its `totalSlots`; an hour without one (no count was reported)
// held the previous bucket's `last`, so that is counted. Hours of the day are local to the
// browser; the server's buckets are whole UTC hours, so where the offset is not whole hours
// (India, +05:30) each is counted in the local hour it starts in.

const HOUR_MS = 3_600_000;

/**
 * @param {{t:string, mean:number, last:number, totalSlots:number}[]} buckets hourly, oldest first
 * @param {{to:number, top?:number}} opts `to`: the end of the range (ms)
 * @returns {{hour:number, rate:number, samples:number}[]} the `top` (3) busiest hours of the day, busiest first
 */
export function busiestHours(buckets, { to, top = 3 }) {
  const byHour = new Map();
  for (const b of buckets) {
    const t = Date.parse(b.t);
    if (Number.isFinite(t) && b.totalSlots > 0) byHour.set(Math.floor(t / HOUR_MS), b);
  }
  if (byHour.size === 0) return [];
  const first = Math.min(...byHour.keys());
  const end = Math.floor(to / HOUR_MS);
  const sums = Array.from({ length: 24 }, () => ({ total: 0, samples: 0 }));
  let held = null; // the count and size carried into hours without a bucket
  for (let hour = first; hour <= end; hour++) {
    const bucket = byHour.get(hour);
    let rate;
    if (bucket) {
      rate = bucket.mean / bucket.totalSlots;
      held = bucket.last / bucket.totalSlots;
    } else {
      rate = held;
    }
    if (rate == null || !Number.isFinite(rate)) continue;
    const slot = sums[new Date(hour * HOUR_MS).getHours()];
    slot.total += rate;
    slot.samples += 1;
  }
  return sums
    .map((s, hour) => ({ hour, rate: s.samples ? s.total / s.samples : NaN, samples: s.samples }))
    .filter((s) => s.samples > 0)
    .sort((a, b) => b.rate - a.rate || a.hour - b.hour)
    .slice(0, top);
}

/** "14:00–15:00". */
export function hourRange(hour) {
  const pad = (n) => String(n % 24).padStart(2, '0');
  return `${pad(hour)}:00–${pad(hour + 1)}:00`;
}
