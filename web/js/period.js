// Statement periods as people pick them: whole local days from a `<input type="date">` pair,
// turned into the RFC 3339 times the server takes. Pure functions, no DOM.

const pad = (n) => String(n).padStart(2, '0');

/** A local date as `YYYY-MM-DD` (the value of a date input). */
export function dateValue(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** This month so far: from its first day to today. */
export function monthSoFar(now = new Date()) {
  return { from: dateValue(new Date(now.getFullYear(), now.getMonth(), 1)), to: dateValue(now) };
}

function localDay(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value || '');
  return m ? new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : null;
}

/**
 * From the start of the first day to the end of the last one, or to now when that day has not
 * ended yet. Null when a date is missing or unreadable (the server checks the rest: order, length).
 */
export function periodOf(fromValue, toValue, now = new Date()) {
  const from = localDay(fromValue);
  const lastDay = localDay(toValue);
  if (!from || !lastDay) return null;
  const end = new Date(lastDay.getFullYear(), lastDay.getMonth(), lastDay.getDate() + 1, 0, 0, 0, -1);
  const to = end > now ? now : end;
  return { from: from.toISOString(), to: to.toISOString() };
}
