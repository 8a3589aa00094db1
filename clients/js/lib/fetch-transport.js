// The fetch transport: what the client opens instead of an EventSource when it must send
// request headers, which an EventSource cannot.

/** Whether a plain object of headers has `name` (lower case), in any case. */
export function hasHeader(headers, name) {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}

/**
 * The part of the EventSource interface the client uses, over `fetch`: it can send headers.
 * It parses text/event-stream as the WHATWG spec says (fields event, data, id, retry; comments
 * and unknown fields ignored; an event with no data not dispatched) and never reconnects by
 * itself: any failure is one `error` event, with `code` for an HTTP refusal.
 */
export class FetchEventSource {
  #listeners = new Map();
  #abort = new AbortController();
  #closed = false;

  constructor(fetchFn, headers, url, init = {}) {
    const requestHeaders = { accept: 'text/event-stream', ...headers };
    if (init.authorization) requestHeaders.authorization = init.authorization;
    this.#run(fetchFn, url, {
      headers: requestHeaders,
      signal: this.#abort.signal,
      cache: 'no-store',
      credentials: init.withCredentials ? 'include' : 'same-origin',
    });
  }

  addEventListener(type, listener) {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  close() {
    this.#closed = true;
    this.#abort.abort();
  }

  #emit(type, event) {
    if (this.#closed) return;
    for (const listener of [...(this.#listeners.get(type) ?? [])]) listener(event);
  }

  #error(message, code) {
    if (this.#closed) return;
    const event = { type: 'error', message };
    if (code !== undefined) event.code = code;
    this.#emit('error', event);
    this.close();
  }

  async #run(fetchFn, url, init) {
    // Let the caller add its listeners first: a fetch that throws at once must still be heard.
    await Promise.resolve();
    let response;
    try {
      response = await fetchFn(url, init);
    } catch (error) {
      this.#error(`fetch failed: ${error?.cause?.message ?? error?.message ?? error}`);
      return;
    }
    const contentType = response.headers.get('content-type') ?? '';
    if (!response.ok || !/^text\/event-stream\b/i.test(contentType) || !response.body) {
      response.body?.cancel().catch(() => {});
      this.#error(
        response.ok ? `not an event stream (content-type ${contentType || 'none'})` : `HTTP ${response.status}`,
        response.status,
      );
      return;
    }
    this.#emit('open', { type: 'open' });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let data = [];
    let eventType = '';
    let lastEventId = '';
    let first = true;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        if (first) {
          // A byte order mark may open the stream.
          buffer = buffer.replace(/^\uFEFF/, '');
          first = false;
        }
        // Lines end in CRLF, LF or CR; a CR at the very end may be half of a CRLF.
        let match;
        while ((match = /\r\n|\n|\r(?!$)/.exec(buffer)) !== null) {
          const line = buffer.slice(0, match.index);
          buffer = buffer.slice(match.index + match[0].length);
          if (line === '') {
            if (data.length > 0) {
              this.#emit(eventType || 'message', { type: eventType || 'message', data: data.join('\n'), lastEventId });
            }
            data = [];
            eventType = '';
            continue;
          }
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let fieldValue = colon < 0 ? '' : line.slice(colon + 1);
          if (fieldValue.startsWith(' ')) fieldValue = fieldValue.slice(1);
          if (field === 'event') eventType = fieldValue;
          else if (field === 'data') data.push(fieldValue);
          else if (field === 'id' && !fieldValue.includes('\0')) lastEventId = fieldValue;
          else if (field === 'retry' && /^[0-9]+$/.test(fieldValue)) this.#emit('retry', { type: 'retry', retry: Number(fieldValue) });
        }
      }
    } catch (error) {
      this.#error(`the stream broke: ${error?.message ?? error}`);
      return;
    }
    this.#error('the server closed the stream');
  }
}
