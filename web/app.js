// parkstream operator dashboard: the controller.
//
// How the page stays correct:
//  1. Load a snapshot over REST (lots, alerts, violations, history). Each answer carries a
//     `Last-Event-ID` header: the newest event that state reflects.
//  2. Subscribe to the stream from the oldest of those ids, so nothing falls in between;
//     events replayed on top of a slightly newer part are applied in order and end in the
//     server's state (alert/violation status never moves backwards, see store.js).
//  3. Apply live events. On `reset` (the server cannot replay from our id), on a reconnect
//     that did not resume, on a retry after giving up, or when the stream has gone silent,
//     drop the stream and start again at 1. A reconnect that resumed gets exactly what it
//     missed, so the page keeps its state (and the vehicle feed keeps the missed rows).
//
// Access (docs/protocol.md, "Access"): the token rides in the `parkstream_token` cookie (set from
// `/?token=JWT`, see api.js), which the browser sends with every fetch and the stream. A 401
// anywhere stops everything and shows "Sign-in required" instead of retrying: retrying cannot
// help until the operator opens a link with a fresh token.
//
// The parts: js/snapshot.js (1), js/stream.js (2, 3), js/sync.js (starting again),
// js/access.js, js/actions.js (Acknowledge, Resolve), js/notify.js (the opt-in alarm for new
// critical alerts), js/render.js (the page), js/tools.js (vehicle search, statements, the lot
// detail, a contractor's own page, and which layout shows); what the token may do is asked with every
// snapshot (js/identity.js). What they remember is in one object, ctx.session
// (js/session.js), and they reach each other through ctx, so none imports another and the
// wiring is all here.

import { adoptTokenFromUrl, createApi } from './js/api.js';
import { createAccess } from './js/access.js';
import { createActions } from './js/actions.js';
import { createNotifier } from './js/notify.js';
import { createRenderer } from './js/render.js';
import { CLIENT_URL, createSession } from './js/session.js';
import { createSnapshot } from './js/snapshot.js';
import { createStore } from './js/store.js';
import { createStream } from './js/stream.js';
import { createSync } from './js/sync.js';
import { createTools } from './js/tools.js';

const ctx = { session: createSession(adoptTokenFromUrl()), api: createApi(), store: createStore() };
ctx.view = createRenderer(ctx.store, {
  alertAction: (id, action) => ctx.actions.alert(id, action),
  violationAction: (id, action) => ctx.actions.violation(id, action),
  retry: () => ctx.sync.resync('manual', { manual: true }),
});
ctx.snapshot = createSnapshot(ctx);
ctx.stream = createStream(ctx);
ctx.sync = createSync(ctx);
ctx.access = createAccess(ctx);
ctx.actions = createActions(ctx);
ctx.notify = createNotifier(ctx.store);
ctx.tools = createTools(ctx);

setInterval(ctx.sync.checkLiveness, 10_000);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') ctx.sync.checkLiveness();
});
window.addEventListener('online', ctx.sync.online);

async function main() {
  try {
    ({ createSSEClient: ctx.session.createSSEClient } = await import(CLIENT_URL));
  } catch (err) {
    console.error('parkstream: live updates unavailable, the client module did not load', err);
  }
  ctx.sync.resync('start');
}

main();
