// DOM helpers shared by the panels. Elements are built with textContent and attributes (no
// innerHTML of data), and updated only where they differ, so a redraw leaves focus, text
// selection and layout alone.

import { formatAge, formatFull } from '../format.js';

/** Creates an element: h('p', {class: 'x', dataset: {a: 1}}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child != null) el.append(child);
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function setText(el, text) {
  const value = String(text ?? '');
  if (el.textContent !== value) el.textContent = value;
}

export function setAttr(el, name, value) {
  if (value == null) el.removeAttribute(name);
  else if (el.getAttribute(name) !== String(value)) el.setAttribute(name, String(value));
}

/** A `<time>` that the age ticker keeps current ("3 min ago"). */
export function ageTime(value) {
  const el = h('time', { class: 'age' });
  setAge(el, value);
  return el;
}

export function setAge(el, value) {
  setAttr(el, 'datetime', value || null);
  setAttr(el, 'title', formatFull(value) || null);
  el.dataset.age = value || '';
  setText(el, formatAge(value));
}

/** Brings every `time[data-age]` on the page up to `now`. */
export function refreshAges(now = Date.now()) {
  for (const el of document.querySelectorAll('time[data-age]')) {
    if (el.dataset.age) setText(el, formatAge(el.dataset.age, now));
  }
}

/** Puts `rows` into `list` in order, moving only what is out of place. */
export function reorder(list, rows) {
  let cursor = list.firstElementChild;
  for (const row of rows) {
    if (row === cursor) {
      cursor = cursor.nextElementSibling;
    } else {
      list.insertBefore(row, cursor);
    }
  }
}

/** Removes a row; if focus was inside it, moves focus somewhere sensible first. */
export function removeRow(row, fallback) {
  if (row.contains(document.activeElement)) {
    const neighbour = row.nextElementSibling || row.previousElementSibling;
    const target = neighbour?.querySelector('button:not([hidden]):not([disabled])') || fallback;
    target?.focus();
  }
  row.remove();
}
