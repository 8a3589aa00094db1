// Which layout the page shows, from who the token is (`GET /api/session`): the operator's
// (lots, alerts, violations, the vehicle feed, statements of any contractor) or a
// contractor's (its own page on top, its lots, alerts and violations; no feed of other
// vehicles, no alarm). `body[data-layout]` lets the stylesheets follow.

import { contractorOf } from '../identity.js';
import { $, setText } from './dom.js';

export function applyLayout(identity) {
  const contractor = contractorOf(identity);
  const layout = contractor ? 'contractor' : 'operator';
  if (document.body.dataset.layout === layout) return;
  document.body.dataset.layout = layout;
  for (const el of document.querySelectorAll('[data-operator-only]')) el.hidden = Boolean(contractor);
  setText($('.brand-sub'), contractor ? 'Contractor dashboard' : 'Operator dashboard');
  document.title = contractor ? 'parkstream · Contractor dashboard' : 'parkstream · Operator dashboard';
}
