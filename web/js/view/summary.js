// The summary line above the lots, and the badges beside the Alerts and Violations headings:
// the same numbers in the same words.

import { formatInt, plural } from '../format.js';
import { $, h, setText } from './dom.js';

function countByStatus(items) {
  const counts = {};
  for (const item of items) counts[item.status] = (counts[item.status] || 0) + 1;
  return counts;
}

/** Open alerts: `[[count, 'active'], [count, 'acknowledged']]`. */
export function alertCounts(store) {
  const c = countByStatus(store.alerts.values());
  return [
    [c.active || 0, 'active'],
    [c.acknowledged || 0, 'acknowledged'],
  ];
}

export function violationCounts(store) {
  const c = countByStatus(store.violations.values());
  return [
    [c.pending || 0, 'pending'],
    [c.acknowledged || 0, 'acknowledged'],
  ];
}

/** "3 active, 1 acknowledged"; "2 pending"; "1 acknowledged"; "none open" (as the badges). */
function openCountText(counts, separator) {
  const [[first, firstLabel], [acked, ackLabel]] = counts;
  if (!first && !acked) return 'none open';
  const parts = [];
  if (first) parts.push(`${formatInt(first)} ${firstLabel}`);
  if (acked) parts.push(`${formatInt(acked)} ${ackLabel}`);
  return parts.join(separator);
}

/** The heading badge: a pill per open status, with the same words as the summary. */
export function renderCount(el, counts) {
  const [[first, firstLabel], [acked, ackLabel]] = counts;
  const key = `${first}:${acked}`;
  el.hidden = !first && !acked;
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  const pills = [];
  if (first) pills.push(h('span', { class: `count-part count-${firstLabel}` }, `${formatInt(first)} ${firstLabel}`));
  if (acked) pills.push(h('span', { class: 'count-part count-acknowledged' }, `${formatInt(acked)} ${ackLabel}`));
  // A separator that screen readers say and eyes do not need (the pills are apart).
  if (pills.length === 2) pills.splice(1, 0, h('span', { class: 'visually-hidden' }, ', '));
  el.replaceChildren(...pills);
}

export function createSummary({ store }) {
  const el = $('#summary');
  return {
    render() {
      let occupied = 0;
      let total = 0;
      for (const lot of store.lots.values()) {
        occupied += lot.occupied;
        total += lot.totalSlots;
      }
      const parts = [plural(store.lots.size, 'lot'), `${formatInt(occupied)} / ${formatInt(total)} occupied`];
      if (store.available.alerts) parts.push(`Alerts: ${openCountText(alertCounts(store), ', ')}`);
      if (store.available.violations) parts.push(`Violations: ${openCountText(violationCounts(store), ', ')}`);
      setText(el, parts.join(' · '));
    },
  };
}
