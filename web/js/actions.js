// Acknowledge and Resolve: the request, the row's "in flight" state, the item as the server
// answered it, and a message a person can act on when it fails.

import { upsertAlert, upsertViolation } from './store.js';

const DONE = { acknowledge: 'acknowledged', resolve: 'resolved' };

/** @param {'alert'|'violation'} noun */
function actionError(err, noun) {
  switch (err?.status) {
    case 0:
      return 'Could not reach the server. Try again.';
    case 401:
      return 'Sign-in required: open the link the server printed (it carries a token).';
    case 403:
      return `Not allowed for your role: changing ${noun}s needs an operator or admin token.`;
    case 404:
      return err.code && !err.code.startsWith('http_') ? err.message : `Changing ${noun}s is not available on this server yet.`;
    case 409:
      return `Not changed: ${err.message || `the ${noun} was already changed elsewhere`}.`;
    default:
      return err?.message || 'Something went wrong.';
  }
}

/** @param {{api, store, view, access}} ctx see app.js */
export function createActions(ctx) {
  const { api, store } = ctx;

  async function run(kind, id, action, call, upsert, changed) {
    if (!DONE[action]) return;
    ctx.view.setPending(kind, id, action);
    try {
      const { data } = await call(id, action);
      const current = (kind === 'alert' ? store.alerts : store.violations).get(id);
      // The answer is the changed item; an answer of another shape still tells us it worked.
      const next = data && data._id === id ? data : current ? { ...current, status: data?.status || DONE[action] } : null;
      if (next) upsert(store, next);
      changed();
      ctx.view.announce(`${kind[0].toUpperCase()}${kind.slice(1)} ${DONE[action]}.`);
    } catch (err) {
      ctx.view.setRowError(kind, id, actionError(err, kind));
      if (err?.status === 401) ctx.access.denied(401);
    } finally {
      ctx.view.setPending(kind, id, null);
    }
  }

  return {
    alert: (id, action) => run('alert', id, action, api.alertAction, upsertAlert, ctx.view.alertsChanged),
    violation: (id, action) => run('violation', id, action, api.violationAction, upsertViolation, ctx.view.violationsChanged),
  };
}
