// Statements (docs/protocol.md, "Statements"): a contractor and a period (by default this month
// so far) give the totals from the JSON form, and "Download CSV" fetches the file with
// `Accept: text/csv` (the cookie rides along) and offers it as a Blob link, so no token is in
// a URL and no inline script runs. Admins and operators pick any contractor (the names they
// know, or any id); a contractor's page is fixed to its own.

import { formatMoney, humanize, plural } from '../format.js';
import { contractorOf, currencyOf, readsStatements } from '../identity.js';
import { monthSoFar, periodOf } from '../period.js';
import { $, h, setText } from './dom.js';
import { lotName } from './names.js';

/** @param {{api, store}} ctx see app.js */
export function createStatementPanel(ctx) {
  const panel = $('#statement-panel');
  const form = $('#statement-form');
  const who = $('#statement-contractor');
  const whoLabel = $('#statement-contractor-label');
  const known = $('#statement-contractors');
  const fromInput = $('#statement-from');
  const toInput = $('#statement-to');
  const csvButton = $('#statement-csv');
  const result = $('#statement-result');
  const link = $('#statement-link');
  let objectUrl = null;

  const defaults = monthSoFar();
  fromInput.value = defaults.from;
  toInput.value = defaults.to;

  function say(text, kind = 'info') {
    result.replaceChildren(h('p', { class: `lookup-note lookup-${kind}`, 'data-testid': 'statement-status' }, text));
  }

  /** The contractor and period asked for, or null after saying what is wrong. */
  function asked() {
    const id = (contractorOf(ctx.store.identity) ?? who.value).trim();
    const period = periodOf(fromInput.value, toInput.value);
    if (!id) say('Choose a contractor.', 'error');
    else if (!period) say('Choose the first and last day.', 'error');
    return id && period ? { id, ...period } : null;
  }

  function failed(err) {
    if (err.status === 404) say(`No such contractor: ${err.message}`, 'error');
    else say(`The statement could not be read: ${err.message}`, 'error');
  }

  function totalsTable(totals, currency) {
    const money = (n) => formatMoney(n, currency);
    const rows = [
      ...Object.entries(totals.byType || {}).map(([type, n]) => ['By type', humanize(type), n]),
      ...Object.entries(totals.byLot || {}).map(([lot, n]) => ['By lot', lotName(ctx.store, lot), n]),
    ];
    return h(
      'table',
      { class: 'table', 'data-testid': 'statement-totals' },
      h('tbody', {}, ...rows.map(([group, name, n]) => h('tr', {}, h('th', { scope: 'row' }, group), h('td', {}, name), h('td', { class: 'num' }, money(n))))),
    );
  }

  async function showTotals() {
    const q = asked();
    if (!q) return;
    say('Reading the statement…');
    try {
      const { data } = await ctx.api.statement(q.id, q.from, q.to);
      const currency = data.currency ?? currencyOf(ctx.store.identity);
      const count = data.violations?.length ?? 0;
      result.replaceChildren(
        h(
          'p',
          { class: 'lookup-note', 'data-testid': 'statement-status' },
          `${plural(count, 'violation')}, penalties `,
          h('strong', { 'data-testid': 'statement-total' }, formatMoney(data.totals?.penalty ?? 0, currency)),
        ),
        count ? totalsTable(data.totals || {}, currency) : '',
      );
    } catch (err) {
      failed(err);
    }
  }

  async function download() {
    const q = asked();
    if (!q) return;
    csvButton.setAttribute('aria-disabled', 'true');
    try {
      const { text, filename } = await ctx.api.statement(q.id, q.from, q.to, { csv: true });
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
      link.href = objectUrl;
      link.download = filename || `statement-${q.id}.csv`;
      setText(link, `Save ${link.download} (${plural(Math.max(text.split('\r\n').filter(Boolean).length - 1, 0), 'row')})`);
      link.hidden = false;
      link.click();
    } catch (err) {
      failed(err);
    } finally {
      csvButton.removeAttribute('aria-disabled');
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    showTotals();
  });
  csvButton.addEventListener('click', download);

  /** Who may read statements, and the contractors to suggest: after every snapshot. */
  function render() {
    const identity = ctx.store.identity;
    const own = contractorOf(identity);
    panel.hidden = !own && !readsStatements(identity);
    whoLabel.hidden = Boolean(own);
    const ids = new Set(ctx.store.contractors.keys());
    for (const v of ctx.store.violations.values()) if (v.contractorId) ids.add(v.contractorId);
    const key = [...ids].sort().join('\n');
    if (known.dataset.key !== key) {
      known.dataset.key = key;
      known.replaceChildren(...[...ids].sort().map((id) => h('option', { value: id }, ctx.store.contractors.get(id) ?? id)));
    }
  }

  return { render, showTotals, download };
}
