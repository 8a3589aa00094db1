// The connection panel in the top bar: the stream's state in words, the countdown to the
// next attempt, Retry, when the last event arrived, and the note that what is on screen is
// not live.

import { formatAge, formatClock, formatFull, humanize } from '../format.js';
import { $, setAttr, setText } from './dom.js';

const STATE_TEXT = {
  idle: 'Starting…',
  connecting: 'Connecting…',
  connected: 'Live',
  reconnecting: 'Reconnecting',
  disconnected: 'Disconnected',
  failed: 'Offline',
  unauthorized: 'Sign-in required',
  forbidden: 'Not allowed',
};

function connectionDetail({ state, info }) {
  if (state === 'reconnecting' && info) {
    const left = Math.max(0, Math.ceil((info.retryAt - Date.now()) / 1000));
    const attempt = info.attempt && info.maxAttempts ? ` · attempt ${info.attempt} of ${info.maxAttempts}` : info.attempt ? ` · attempt ${info.attempt}` : '';
    return (left > 0 ? `in ${left} s` : 'now…') + attempt;
  }
  if (state === 'failed') return info?.message || 'Gave up reconnecting.';
  if (state === 'disconnected') return 'Not receiving updates.';
  return '';
}

/** @param {() => void} retry what Retry does */
export function createConnectionPanel(state, retry) {
  const ui = {
    status: $('[data-testid="connection-status"]'),
    label: $('#conn-label'),
    detail: $('#conn-detail'),
    retry: $('#conn-retry'),
    lastEvent: $('[data-testid="last-event-time"]'),
    lastEventAge: $('#last-event-age'),
    staleNote: $('#stale-note'),
  };

  function render() {
    const { state: now, syncing } = state.connection;
    setAttr(ui.status, 'data-state', now);
    setAttr(ui.status, 'data-syncing', syncing ? 'true' : null);
    // What is on screen may be out of date while the stream is down.
    const stale = now === 'reconnecting' || now === 'disconnected' || now === 'failed';
    document.body.classList.toggle('is-stale', stale);
    ui.staleNote.hidden = !stale || !state.liveUntil;
    if (stale && state.liveUntil) setText(ui.staleNote, `Not live: showing the state as of ${formatClock(state.liveUntil)}.`);
    let label = STATE_TEXT[now] || humanize(now);
    if (syncing && now !== 'reconnecting' && now !== 'failed') label = 'Loading latest state…';
    setText(ui.label, label);
    setText(ui.detail, connectionDetail(state.connection));
    // Unauthorized or forbidden: the access note in the page says what to do, with its own button.
    ui.retry.hidden = !(now === 'failed' || now === 'disconnected' || now === 'reconnecting');
    setText(ui.retry, now === 'reconnecting' ? 'Retry now' : 'Retry');
  }

  function renderLastEvent() {
    const at = state.store.lastEventAt;
    if (!at) {
      setText(ui.lastEvent, 'none yet');
      setAttr(ui.lastEvent, 'datetime', null);
      setText(ui.lastEventAge, '');
      return;
    }
    const iso = new Date(at).toISOString();
    setText(ui.lastEvent, formatClock(at));
    setAttr(ui.lastEvent, 'datetime', iso);
    setAttr(ui.lastEvent, 'title', formatFull(at));
    setText(ui.lastEventAge, `(${formatAge(at)})`);
  }

  ui.retry.addEventListener('click', () => retry());

  return {
    /** @param {{state?: string, info?: object|null, syncing?: boolean}} next */
    set(next) {
      if (state.connection.state === 'connected' && next.state !== 'connected') state.liveUntil = Date.now();
      state.connection = { ...state.connection, ...next };
      render();
    },
    renderLastEvent,
    /** Keeps the countdown to the next attempt current. */
    tick() {
      if (state.connection.state === 'reconnecting') setText(ui.detail, connectionDetail(state.connection));
    },
  };
}
