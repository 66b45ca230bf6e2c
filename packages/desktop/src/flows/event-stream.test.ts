import { describe, expect, it } from 'vitest';
import { readEventStream, type StreamEvent } from './event-stream.js';

/** A body that delivers `chunks` one read at a time, as a network would split them. */
function body(chunks: string[], keepOpen = false): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(encoder.encode(chunks[i++]));
      else if (!keepOpen) controller.close();
    },
  });
}

describe('readEventStream (WHATWG HTML §9.2.6)', () => {
  it('parses events split anywhere, with CRLF, CR and LF line ends, comments and retry', async () => {
    const events: StreamEvent[] = [];
    let activity = 0;
    let retry: number | undefined;
    await readEventStream(
      body([
        'retry: 2000\n:\n',
        '\n: heartbeat\r',
        '\nevent: session-revoked\r\nid: 42\r\nda',
        'ta: a.b.c\r\r',
        'data: x\ndata: y\n\n',
      ]),
      {
        onEvent: (e) => void events.push(e),
        onActivity: () => {
          activity += 1;
        },
        onRetry: (ms) => {
          retry = ms;
        },
      },
    );
    expect(retry).toBe(2000);
    expect(activity).toBe(5);
    expect(events).toEqual([
      { event: 'session-revoked', data: 'a.b.c', id: '42' },
      { event: 'message', data: 'x\ny', id: '42' },
    ]);
  });

  it('stops when a handler asks, even on a body that stays open', async () => {
    const events: StreamEvent[] = [];
    await readEventStream(body(['event: a\ndata: 1\n\nevent: b\ndata: 2\n\n'], true), {
      onEvent: (e) => {
        events.push(e);
        return true;
      },
    });
    expect(events.map((e) => e.event)).toEqual(['a']);
  });

  it('ends a read waiting on an open body when the signal aborts', async () => {
    const controller = new AbortController();
    const reading = readEventStream(body([':\n\n'], true), { onEvent: () => undefined }, controller.signal);
    setTimeout(() => controller.abort(), 50);
    await expect(reading).resolves.toBeUndefined();
  });

  it('refuses an endless line', async () => {
    await expect(
      readEventStream(body(['data: ', 'x'.repeat(70 * 1024)]), { onEvent: () => undefined }),
    ).rejects.toThrow(/too long/);
  });
});
