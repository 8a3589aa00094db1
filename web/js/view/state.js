// What the page shows beyond the server's data (the store): the connection as the controller
// last reported it, actions in flight, the feed's pause. One object that every panel reads
// and the renderer's entry points change, so no panel keeps state another one needs.

export function createViewState(store) {
  return {
    store,
    /** `{state, info, syncing}` as app.js last set it. */
    connection: { state: 'idle', info: null, syncing: false },
    /** When the page was last known to be live (the stream dropped then). */
    liveUntil: 0,
    /** The vehicle feed: paused by the operator, and how many rows arrived meanwhile. */
    feed: { paused: false, held: 0 },
    /** `${kind}:${id}` -> action in flight */
    pending: new Map(),
    /** `${kind}:${id}` -> message of the last failed action */
    rowErrors: new Map(),
  };
}

/** The key of an alert's or violation's entry in `pending` and `rowErrors`. */
export const rowKey = (kind, id) => `${kind}:${id}`;
