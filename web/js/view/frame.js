// The frame scheduler: changes only mark which parts of the page are out of date, and the
// next animation frame redraws each marked part once, so a burst of events costs one layout.

/**
 * @param {{lots(only: Set<string>|null): boolean, alerts(), violations(), feed(), summary()}} draw
 *   the passes, run in this order; `lots` redraws the given lots (null: all of them) and
 *   returns true when a lot's name changed.
 */
export function createFrameScheduler(draw) {
  const dirty = { lots: new Set(), allLots: false, alerts: false, violations: false, feed: false, summary: false };
  let frame = 0;

  function schedule() {
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    if (dirty.allLots || dirty.lots.size) {
      // Alert, violation and feed rows name lots: after a rename they are redrawn in this
      // same flush (their passes come after this one).
      if (draw.lots(dirty.allLots ? null : dirty.lots)) dirty.alerts = dirty.violations = dirty.feed = true;
    }
    if (dirty.alerts) draw.alerts();
    if (dirty.violations) draw.violations();
    if (dirty.feed) draw.feed();
    if (dirty.summary) draw.summary();
    dirty.lots = new Set();
    dirty.allLots = dirty.alerts = dirty.violations = dirty.feed = dirty.summary = false;
  }

  return {
    /** These lots changed; null: all of them (or the set of lots itself). */
    lots(ids) {
      if (ids == null) dirty.allLots = true;
      else for (const id of ids) dirty.lots.add(id);
      schedule();
    },
    /** @param {...('allLots'|'alerts'|'violations'|'feed'|'summary')} parts */
    mark(...parts) {
      for (const part of parts) dirty[part] = true;
      schedule();
    },
    flush,
  };
}
