// parkstream browser SSE client.
//
// An ES module with no dependencies, built on the native `EventSource` (inject another
// constructor, such as the `eventsource` package, through `options.EventSource` outside a
// browser). With `options.headers` it reads the stream with `fetch` instead, because an
// EventSource cannot send headers. See README.md for the API and sse-client.d.ts for the types.
//
// The code is in lib/: client.js (the state machine and reconnection), fetch-transport.js (the
// stream over fetch) and options.js (defaults and checks). This file is the public entry.

import { SSEClient } from './lib/client.js';

export { EVENT_TYPES, SSEClient, STATES } from './lib/client.js';

/** Creates a client. It does not connect until `connect()` is called. */
export function createSSEClient(options = {}) {
  return new SSEClient(options);
}

export default createSSEClient;
