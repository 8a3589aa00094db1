// Formatting for people: ages, durations, counts, labels. Pure functions, no DOM.

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const clock = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const fullDate = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** Milliseconds since the epoch, or NaN for a missing or unreadable timestamp. */
export function toMillis(value) {
  if (value == null) return NaN;
  if (typeof value === 'number') return value;
  return Date.parse(value);
}

/** "just now", "42 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function formatAge(then, now = Date.now()) {
  const ms = toMillis(then);
  if (Number.isNaN(ms)) return '—';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** Local wall-clock time, e.g. "14:03:27". */
export function formatClock(value) {
  const ms = toMillis(value);
  return Number.isNaN(ms) ? '—' : clock.format(ms);
}

/** Local date and time, for tooltips. */
export function formatFull(value) {
  const ms = toMillis(value);
  return Number.isNaN(ms) ? '' : fullDate.format(ms);
}

/**
 * A duration in seconds as "45 s", "3 min 20 s", "12 min", "1 h 30 min", "2 d 3 h". Seconds
 * are kept under 10 minutes, where they matter (a 200 s stay limit against a 201 s stay).
 */
export function formatDuration(seconds) {
  if (seconds == null || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export function formatInt(n) {
  return Number.isFinite(n) ? integer.format(n) : '—';
}

const moneyFormats = new Map();

/**
 * An amount in `currency` (ISO 4217, e.g. "EUR" -> "€5,000.00" in English), or a plain
 * number without one, or when the browser does not know the code.
 */
export function formatMoney(amount, currency) {
  if (!Number.isFinite(amount)) return '—';
  if (!currency) return formatInt(amount);
  let format = moneyFormats.get(currency);
  if (format === undefined) {
    try {
      format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
    } catch {
      format = null; // a code this browser's Intl refuses: show the number
    }
    moneyFormats.set(currency, format);
  }
  return format ? format.format(amount) : formatInt(amount);
}

/** "1 lot", "3 lots", "1,204 vehicles". */
export function plural(n, one, many = `${one}s`) {
  return `${formatInt(n)} ${n === 1 ? one : many}`;
}

export function formatPercent(rate) {
  return Number.isFinite(rate) ? `${Math.round(rate * 100)}%` : '—';
}

/** "capacity_warning" -> "Capacity warning". */
export function humanize(code) {
  if (!code) return '';
  const text = String(code).replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Natural order for ids like lot_2 < lot_10. */
export const naturalCompare = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' }).compare;
