// The vehicle feed: gate entries and exits, newest first, with a Pause that holds new rows
// back (and counts them) while the operator reads.

import { formatClock, formatDuration, formatFull } from '../format.js';
import { $, h, reorder, setText } from './dom.js';
import { setLotLabel } from './names.js';

const separator = () => h('span', { class: 'muted' }, '\u00a0· ');

function createFeedRow(store, row) {
  const entry = row.event === 'vehicle_entry';
  const lot = h('span', { class: 'feed-lot' });
  setLotLabel(lot, store, row.lotId);
  // A contractor's token does not see other contractors' plates: the update comes without
  // one, and the row says "vehicle".
  const plate = row.plateNumber
    ? h('span', { class: 'plate' }, row.plateNumber)
    : h('span', { class: 'plate plate-hidden', title: 'Plate not shown to this account' }, 'vehicle');
  const li = h(
    'li',
    { class: `feed-row ${entry ? 'is-entry' : 'is-exit'}`, 'data-testid': 'feed-row', dataset: { event: row.event } },
    h('time', { class: 'feed-time', datetime: row.at || null, title: formatFull(row.at) || null }, formatClock(row.at)),
    h('span', { class: 'feed-dir' }, h('span', { 'aria-hidden': 'true' }, entry ? '→ ' : '← '), entry ? 'Entry' : 'Exit'),
    plate,
    h(
      'span',
      { class: 'feed-where' },
      lot,
      // Lines break after a dot, never inside "gate north" or "parked 2 min 5 s".
      row.gateId ? separator() : null,
      row.gateId ? h('span', { class: 'muted nowrap' }, `gate ${row.gateId}`) : null,
      row.duration != null ? separator() : null,
      row.duration != null ? h('span', { class: 'feed-duration' }, `parked ${formatDuration(row.duration)}`) : null,
    ),
  );
  return Object.assign(li, { lot, lotId: row.lotId });
}

/** @param {() => void} redraw asks for the feed to be drawn (on Resume) */
export function createFeedPanel(state, redraw) {
  const { store } = state;
  const list = $('#feed');
  const empty = $('#feed-empty');
  const pause = $('#feed-pause');
  const held = $('#feed-held');
  /** row key -> li */
  const rows = new Map();

  function render() {
    if (state.feed.paused) return;
    const keep = new Set(store.feed.map((row) => row.key));
    for (const [key, li] of rows) {
      if (!keep.has(key)) {
        li.remove();
        rows.delete(key);
      }
    }
    const ordered = store.feed.map((row) => {
      let li = rows.get(row.key);
      if (!li) {
        li = createFeedRow(store, row);
        rows.set(row.key, li);
      } else {
        setLotLabel(li.lot, store, li.lotId); // the lot's name may have arrived since
      }
      return li;
    });
    reorder(list, ordered);
    empty.hidden = store.feed.length > 0;
  }

  function setPaused(paused) {
    state.feed.paused = paused;
    state.feed.held = 0;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
    list.setAttribute('aria-live', paused ? 'off' : 'polite');
    held.hidden = true;
    if (!paused) redraw();
  }

  /** A new row while paused: counted, not shown. */
  function hold() {
    state.feed.held += 1;
    const n = state.feed.held;
    held.hidden = false;
    setText(held, `${Math.min(n, 50)}${n > 50 ? '+' : ''} new while paused`);
  }

  pause.addEventListener('click', () => setPaused(!state.feed.paused));

  return { render, hold };
}
