// How rows name things: lots by their name (with the id as the tooltip), contractors by name
// when the token may read them, statuses in words.

import { formatClock, humanize } from '../format.js';
import { setAttr, setText } from './dom.js';

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The lot's name when the dashboard knows it (GET /api/lots), else its id. */
export function lotName(store, id) {
  return store.lots.get(id)?.name || id || '—';
}

/** Shows a lot's name in `el`, with its id as the tooltip (as on the lot cards). */
export function setLotLabel(el, store, id) {
  setText(el, lotName(store, id));
  setAttr(el, 'title', id && lotName(store, id) !== id ? id : null);
}

/** Server messages name a lot by id ("… in lot depot, …"): say its name instead. */
export function withLotName(store, message, id) {
  const name = store.lots.get(id)?.name;
  if (!message || !id || !name || name === id) return message || '';
  return message.replace(new RegExp(`\\blot ${escapeRegExp(id)}(?![\\w-])`, 'g'), name);
}

export function contractorName(store, id) {
  if (!id) return '—';
  return store.contractors.get(id) || id;
}

export function statusText(status, since) {
  const text = humanize(status);
  return since ? `${text} ${formatClock(since)}` : text;
}
