import type { EventEmitter } from 'node:events';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Gives memory back when the server has been idle: full garbage collections once no request has
 * arrived for a while, until V8 has shrunk the young generation.
 *
 * V8 sizes the young generation by the allocation it sees: a start-up, a burst of sign-ins or a busy
 * hour leave it at 2 × 16 MB, and it stays resident after the work is gone. V8 shrinks it in a
 * collection that finds the allocation rate of the last seconds low, which its memory reducer only
 * sometimes runs on an idle process (three idle 20-second runs of the same server here: 99, 101 and
 * 135 MB resident). So, once the server has been quiet for `idleMs`, it collects every `checkMs`
 * until the young generation is back at its starting size (the third or fourth collection here,
 * when the quiet seconds outweigh the busy ones), at most `maxCollections` times per quiet spell: the
 * benchmark's idle SQLite server goes from ~135 to ~105 MB. A collection takes ~25 ms, spent when
 * nobody is waiting (a request arriving during one waits that long once). Under load none runs:
 * every request starts the quiet spell over.
 *
 * The collector is V8's `gc` extension, enabled at run time (`--expose-gc` applies to contexts made
 * after it is set, hence the one new context). Nothing else in the process changes.
 */
export interface IdleHeapOptions {
  /** Quiet time before the first collection (default 5 s). */
  idleMs?: number;
  /** Time between the checks, and so between collections (default 2 s). */
  checkMs?: number;
  /** Collections per quiet spell at most (default 6). */
  maxCollections?: number;
  /** Told after each collection: its duration and the young generation's size after it (bytes). */
  onCollected?(ms: number, youngBytes: number): void;
  /** The quiet spell began (before its first collection) / ended (the first request after it). */
  onQuiet?(): void;
  onBusy?(): void;
  /** For tests: the collector and the young generation's size (V8's, by default). */
  collect?: () => void;
  youngBytes?: () => number;
}

/** The young generation's size at which there is nothing to give back (V8 starts it at 1 MB). */
const SMALL_YOUNG_GENERATION = 2 * 2 ** 20;

let collect: (() => void) | undefined;

function collector(): () => void {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  return collect;
}

function youngGeneration(): number {
  return getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
}

/** Watches the `request` events of `server` (an http.Server); returns the stop function. */
export function startIdleHeapRelease(server: EventEmitter, options: IdleHeapOptions = {}): () => void {
  const idleMs = options.idleMs ?? 5_000;
  const maxCollections = options.maxCollections ?? 6;
  const young = options.youngBytes ?? youngGeneration;
  const collectNow = options.collect ?? (() => collector()());
  let lastRequest = Date.now();
  let collections = 0;
  let quiet = false;
  const onRequest = () => {
    lastRequest = Date.now();
    collections = 0;
    if (quiet) {
      quiet = false;
      options.onBusy?.();
    }
  };
  server.on('request', onRequest);
  const timer = setInterval(() => {
    if (Date.now() - lastRequest < idleMs) return;
    if (!quiet) {
      quiet = true;
      options.onQuiet?.();
    }
    if (collections >= maxCollections) return;
    if (young() <= SMALL_YOUNG_GENERATION) {
      collections = maxCollections; // given back; nothing more until the next request
      return;
    }
    collections += 1;
    const started = performance.now();
    collectNow();
    options.onCollected?.(performance.now() - started, young());
  }, options.checkMs ?? 2_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    server.off('request', onRequest);
  };
}
