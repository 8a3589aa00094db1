// Everything that touches the DOM, put together: one view state (view/state.js) over the
// store, a module per panel (view/*.js), and the frame scheduler (view/frame.js) that batches
// redraws to one pass per animation frame, so a burst of events costs one layout and focus
// stays where the operator left it. app.js talks to the page only through what this returns.

import { refreshAges } from './view/dom.js';
import { createAlertsPanel, showsLotFigure } from './view/alerts.js';
import { createConnectionPanel } from './view/connection.js';
import { createFeedPanel } from './view/feed.js';
import { createFrameScheduler } from './view/frame.js';
import { createLotsPanel } from './view/lots.js';
import { createMessages } from './view/messages.js';
import { createViewState, rowKey } from './view/state.js';
import { createSummary } from './view/summary.js';
import { createViolationsPanel } from './view/violations.js';

/**
 * @param {object} store see store.js
 * @param {{alertAction(id, action), violationAction(id, action), retry()}} handlers
 */
export function createRenderer(store, handlers) {
  const state = createViewState(store);
  const connection = createConnectionPanel(state, () => handlers.retry());
  const messages = createMessages(() => handlers.retry());
  const lots = createLotsPanel(state);
  const summary = createSummary(state);
  const alerts = createAlertsPanel(state, (id, action) => handlers.alertAction(id, action));
  const violations = createViolationsPanel(state, (id, action) => handlers.violationAction(id, action));
  const feed = createFeedPanel(state, () => frame.mark('feed'));
  const frame = createFrameScheduler({
    lots(only) {
      const renamed = lots.render(only);
      summary.render();
      return renamed;
    },
    alerts: alerts.render,
    violations: violations.render,
    feed: feed.render,
    summary: summary.render,
  });

  /** An action of an alert's or violation's row started, ended, or failed. */
  function rowChanged(kind, id, apply) {
    apply(rowKey(kind, id));
    frame.mark(kind === 'alert' ? 'alerts' : 'violations');
  }

  // Periodic refresh: the countdown, ages, and sparklines sliding with time.
  setInterval(connection.tick, 250);
  setInterval(() => {
    refreshAges();
    connection.renderLastEvent();
  }, 5000);
  setInterval(() => frame.lots(null), 30_000);

  return {
    /** @param {string[]|null} ids the lots that changed, or null for all (or a new lot) */
    lotsChanged(ids) {
      frame.lots(ids);
      // Capacity alerts show their lot's figure now: keep it live.
      if (showsLotFigure(store, ids)) frame.mark('alerts');
    },
    alertsChanged() {
      // Lot cards show their active alerts; the summary counts them.
      frame.mark('alerts', 'allLots', 'summary');
    },
    violationsChanged() {
      frame.mark('violations', 'summary');
    },
    feedChanged() {
      if (state.feed.paused) feed.hold();
      else frame.mark('feed');
    },
    everythingChanged() {
      frame.mark('allLots', 'alerts', 'violations', 'feed', 'summary');
    },
    setConnection: connection.set,
    eventReceived: connection.renderLastEvent,
    setPending(kind, id, action) {
      rowChanged(kind, id, (key) => {
        if (action) state.pending.set(key, action);
        else state.pending.delete(key);
        if (action) state.rowErrors.delete(key);
      });
    },
    setRowError(kind, id, message) {
      rowChanged(kind, id, (key) => {
        if (message) state.rowErrors.set(key, message);
        else state.rowErrors.delete(key);
      });
    },
    announce: messages.announce,
    showBanner: messages.showBanner,
    setAccess: messages.setAccess,
    flushNow: frame.flush,
  };
}
