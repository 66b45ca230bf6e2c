/**
 * A Server-Sent Events reader (WHATWG HTML §9.2.6, "Interpreting an event stream") over a fetch
 * body: Node has no EventSource before 22, and EventSource cannot send an `Authorization` header.
 * Comment lines (heartbeats) are reported as activity, so a watchdog can tell a quiet stream from a
 * dead one.
 */
export interface StreamEvent {
  event: string;
  data: string;
  id?: string;
}

export interface EventStreamHandlers {
  /** Return `true` to stop reading (the body is cancelled and the read resolves). */
  onEvent(event: StreamEvent): boolean | undefined;
  /** Any bytes arrived (an event, a heartbeat comment). */
  onActivity?(): void;
  /** The server's `retry:` hint, milliseconds. */
  onRetry?(ms: number): void;
}

/** Reads `body` until it ends (resolves) or fails (rejects, e.g. aborted). */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  handlers: EventStreamHandlers,
  signal?: AbortSignal,
): Promise<void> {
  const reader = body.getReader();
  // Aborting the fetch does not always end a read already waiting on the body (undici): cancelling
  // the reader does (the read resolves as done).
  const onAbort = () => {
    stop = true;
    reader.cancel().catch(() => {});
  };
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  let stop = false;
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const line = (text: string) => {
    if (text === '') {
      if (
        data.length > 0 &&
        handlers.onEvent({ event: event || 'message', data: data.join('\n'), ...(id ? { id } : {}) })
      )
        stop = true;
      data = [];
      event = '';
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) handlers.onRetry?.(Number(value));
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || stop) return;
      handlers.onActivity?.();
      buffer += decoder.decode(value, { stream: true });
      // Lines end with CRLF, LF or CR (§9.2.5).
      let at = buffer.search(/\r\n|\r|\n/);
      while (at !== -1) {
        const width = buffer.startsWith('\r\n', at) ? 2 : 1;
        // A lone CR at the very end may be the first half of a CRLF still in flight.
        if (width === 1 && buffer[at] === '\r' && at === buffer.length - 1) break;
        line(buffer.slice(0, at));
        buffer = buffer.slice(at + width);
        if (stop) {
          // Not awaited: cancelling a body that is still open may wait on the connection.
          reader.cancel().catch(() => {});
          return;
        }
        at = buffer.search(/\r\n|\r|\n/);
      }
      // An unbounded line is not an event stream.
      if (buffer.length > 64 * 1024) throw new Error('event stream line too long');
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!stop) reader.releaseLock();
  }
}
