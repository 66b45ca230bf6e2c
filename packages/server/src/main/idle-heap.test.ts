import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { startIdleHeapRelease } from './idle-heap.js';

const MB = 2 ** 20;

/**
 * The schedule, on a fake clock with a stand-in collector and young generation (what V8 then does
 * with the collections, the benchmark measures: bench/run.mjs, "Server memory … idle").
 */
describe('idle heap release', () => {
  let server: EventEmitter;
  let young: number;
  let collected: number[];
  let shrinkAt: number;
  let stop: () => void;

  beforeEach(() => {
    vi.useFakeTimers();
    server = new EventEmitter();
    young = 32 * MB;
    collected = [];
    // V8 shrinks the young generation in the third collection of a quiet spell (`shrinkAt`).
    shrinkAt = 3;
    let inSpell = 0;
    server.on('request', () => {
      inSpell = 0;
    });
    stop = startIdleHeapRelease(server, {
      collect: () => {
        collected.push(Date.now());
        inSpell += 1;
        if (inSpell === shrinkAt) young = 1 * MB;
      },
      youngBytes: () => young,
    });
  });

  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  it('collects nothing while requests keep arriving', () => {
    for (let i = 0; i < 30; i++) {
      vi.advanceTimersByTime(1_000);
      server.emit('request');
    }
    expect(collected).toHaveLength(0);
  });

  it('collects from 5 s of quiet on, every 2 s, until the young generation is small, then stops', () => {
    const start = Date.now();
    vi.advanceTimersByTime(30_000);
    expect(collected.map((at) => at - start)).toEqual([6_000, 8_000, 10_000]);
    expect(young).toBe(1 * MB);
  });

  it('starts over with the next request, and collects at most 6 times in a quiet spell', () => {
    vi.advanceTimersByTime(30_000);
    expect(collected).toHaveLength(3);
    // Busy again, the young generation grown again; this quiet spell V8 never shrinks it.
    young = 32 * MB;
    shrinkAt = Number.POSITIVE_INFINITY;
    server.emit('request');
    collected = [];
    vi.advanceTimersByTime(4_000);
    expect(collected).toHaveLength(0);
    vi.advanceTimersByTime(60_000);
    expect(collected).toHaveLength(6);
  });

  it('says when a quiet spell begins (before its first collection) and when it ends (its first request)', () => {
    stop();
    const events: string[] = [];
    stop = startIdleHeapRelease(server, {
      collect: () => events.push('collect'),
      youngBytes: () => 32 * MB,
      onQuiet: () => events.push('quiet'),
      onBusy: () => events.push('busy'),
    });
    server.emit('request');
    vi.advanceTimersByTime(4_000);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(4_000);
    expect(events).toEqual(['quiet', 'collect', 'collect']);
    server.emit('request');
    server.emit('request');
    expect(events.slice(3)).toEqual(['busy']);
  });

  it('stops watching when stopped', () => {
    stop();
    vi.advanceTimersByTime(60_000);
    expect(collected).toHaveLength(0);
    expect(server.listenerCount('request')).toBe(1); // only the test's own
  });
});
