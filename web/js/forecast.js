// "full in ~N min" on a lot card, from the lot's forecast (GET /api/lots/{id}/forecast,
// docs/protocol.md "Forecast"). A card asks for its lot's forecast when it is first drawn and
// whenever its count changes, at most once a minute per lot; every minute, the lots whose
// cards are on the page are asked again. Failures leave the text as it was: the forecast is a
// hint, the count beside it is the fact.

import { createApi } from './api.js';

const MIN_INTERVAL_MS = 60_000;

const api = createApi();
/** lot id -> { el, askedAt, pending } */
const tracked = new Map();
let timer = null;

function text(forecast) {
  const seconds = forecast?.fullInSeconds;
  if (seconds === null || seconds === undefined || seconds <= 0) return '';
  return `full in ~${Math.max(1, Math.round(seconds / 60))} min`;
}

async function ask(id, entry) {
  entry.pending = true;
  entry.askedAt = Date.now();
  try {
    const { data } = await api.lotForecast(id);
    const shown = text(data);
    entry.el.textContent = shown;
    entry.el.hidden = shown === '';
  } catch {
    // Keep what is shown; the next minute asks again.
  } finally {
    entry.pending = false;
  }
}

function refreshAll() {
  for (const [id, entry] of tracked) {
    if (!entry.el.isConnected) tracked.delete(id);
    else if (!entry.pending) ask(id, entry);
  }
  if (tracked.size === 0) {
    clearInterval(timer);
    timer = null;
  }
}

/** The element a card shows its forecast in (hidden while there is nothing to say). */
export function createForecastText() {
  const el = document.createElement('span');
  el.className = 'lot-forecast';
  el.dataset.testid = 'lot-forecast';
  el.hidden = true;
  return el;
}

/** Called whenever a lot's card is drawn: asks for the forecast unless asked within a minute. */
export function trackForecast(id, el) {
  let entry = tracked.get(id);
  if (!entry || entry.el !== el) {
    entry = { el, askedAt: 0, pending: false };
    tracked.set(id, entry);
  }
  if (!entry.pending && Date.now() - entry.askedAt >= MIN_INTERVAL_MS) ask(id, entry);
  timer ??= setInterval(refreshAll, MIN_INTERVAL_MS);
}
