// What the alerts and violations panels share: a filtered, ordered list of keyed rows,
// each ending in its age, its status, Acknowledge and Resolve, and a line for a failed action.

import { mayOperate } from '../identity.js';
import { newestFirst } from '../store.js';
import { $, ageTime, h, removeRow, reorder, setAttr, setText } from './dom.js';
import { rowKey } from './state.js';
import { renderCount } from './summary.js';

function actionButton(testid, action, label) {
  return h('button', { type: 'button', class: `btn btn-${action}`, 'data-testid': testid, dataset: { action } }, label);
}

/** The end of every row (`kind`: 'alert' or 'violation'); `foot` goes into the row. */
export function createRowFoot(kind) {
  const age = ageTime(null);
  const status = h('span', { class: 'status' });
  const ack = actionButton(`${kind}-ack`, 'acknowledge', 'Acknowledge');
  const resolve = actionButton(`${kind}-resolve`, 'resolve', 'Resolve');
  const error = h('p', { class: 'row-error', role: 'alert', hidden: true });
  const actions = h('div', { class: 'actions' }, ack, resolve);
  const foot = h('div', { class: 'item-foot' }, h('p', { class: 'item-meta muted' }, age, status), actions);
  // `actionsIn`: where the actions go back when the role may act again (see updateActions).
  return { age, status, ack, resolve, error, foot, actions, actionsIn: foot };
}

/**
 * Takes the actions out of the row for a role that may not act (viewer, contractor,
 * monitor: `GET /api/session` says), so nobody is offered a button that can only be refused,
 * and puts them back when a new token may. Returns whether they are there.
 */
function placeActions(state, p) {
  const may = mayOperate(state.store.identity);
  if (may && !p.actions.parentNode) p.actionsIn.append(p.actions);
  if (!may && p.actions.parentNode) {
    if (p.actions.contains(document.activeElement)) p.actions.closest('section')?.querySelector('h2')?.focus();
    p.actions.remove();
  }
  return may;
}

/**
 * Shows or hides a row's two actions. Buttons in flight are marked aria-disabled rather than
 * disabled, so they keep focus; a focused "Acknowledge" that goes away hands focus to
 * "Resolve".
 */
function showButtons(p, canAck, canResolve, busy) {
  const focused = document.activeElement;
  if (!canAck && p.ack === focused && canResolve) p.resolve.focus();
  else if (!canResolve && (p.ack === focused || p.resolve === focused)) {
    p.ack.closest('section')?.querySelector('h2')?.focus();
  }
  p.ack.hidden = !canAck;
  p.resolve.hidden = !canResolve;
  setAttr(p.ack, 'aria-disabled', busy ? 'true' : null);
  setAttr(p.resolve, 'aria-disabled', busy ? 'true' : null);
}

/**
 * A row's actions (which show, which is in flight) and its error line. `context` names the
 * item for screen readers: "Acknowledge alert: Capacity warning, North Garage".
 */
export function updateActions(state, p, kind, id, { canAck, canResolve, context }) {
  const key = rowKey(kind, id);
  const err = state.rowErrors.get(key);
  p.error.hidden = !err;
  setText(p.error, err || '');
  if (!placeActions(state, p)) return;
  const busy = state.pending.get(key);
  showButtons(p, canAck, canResolve, busy);
  setText(p.ack, busy === 'acknowledge' ? 'Acknowledging…' : 'Acknowledge');
  setText(p.resolve, busy === 'resolve' ? 'Resolving…' : 'Resolve');
  setAttr(p.ack, 'aria-label', `Acknowledge ${kind}: ${context}`);
  setAttr(p.resolve, 'aria-label', `Resolve ${kind}: ${context}`);
}

/**
 * The panel of `kind` ('alert' or 'violation'; its elements are `#${kind}-list`,
 * `#${kind}s-empty`, `#${kind}s-h`, `#${kind}-count` and `#${kind}-filter`).
 * @param {{kind: string, items(): Map<string, object>, available(): boolean, isOpen(item): boolean,
 *   counts(): Array, createRow(id): HTMLLIElement, updateRow(li, item), onAction(id, action),
 *   order?(items): object[]}} spec the rows' order: newest first unless `order` says otherwise
 */
export function createListPanel(spec) {
  const { kind } = spec;
  const list = $(`#${kind}-list`);
  const empty = $(`#${kind}s-empty`);
  const heading = $(`#${kind}s-h`);
  const count = $(`#${kind}-count`);
  const filter = $(`#${kind}-filter`);
  /** _id -> li */
  const rows = new Map();

  function render() {
    const items = [...spec.items().values()];
    const counts = spec.counts();
    const available = spec.available();
    const showAll = filter.value === 'all';
    const open = items.filter(spec.isOpen);
    const visible = (spec.order || newestFirst)(showAll ? items : open);
    const keep = new Set(visible.map((item) => item._id));
    for (const [id, row] of rows) {
      if (!keep.has(id)) {
        removeRow(row, heading);
        rows.delete(id);
      }
    }
    const ordered = visible.map((item) => {
      let row = rows.get(item._id);
      if (!row) {
        row = spec.createRow(item._id);
        rows.set(item._id, row);
      }
      spec.updateRow(row, item);
      return row;
    });
    reorder(list, ordered);
    empty.hidden = visible.length > 0;
    if (!available) setText(empty, `This server does not provide ${kind}s yet.`);
    else setText(empty, showAll ? `No ${kind}s yet.` : `No open ${kind}s.`);
    renderCount(count, counts);
  }

  list.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (!button || button.getAttribute('aria-disabled') === 'true') return;
    const row = button.closest('li');
    const id = row?.dataset[`${kind}Id`];
    if (!id || rows.get(id) !== row) return;
    spec.onAction(id, button.dataset.action);
  });
  filter.addEventListener('change', () => render());

  return { render };
}
