import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';

/**
 * The worker's program, given as source so it needs no file of its own beside this module (compiled
 * or run from TypeScript by the tests). On its own connection to the file it runs a PASSIVE
 * checkpoint every `intervalMs`: it copies what it can without waiting for, or blocking, the writer
 * and the readers (frames a reader still needs stay for a later tick), and once everything is copied
 * the writer's next transaction starts the log over from its beginning. With nothing to copy a
 * checkpoint costs microseconds. A checkpoint that throws ends the thread: the error and the stop are
 * reported, and the writer checkpoints again (one way to fail, the one the tests exercise).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
// better-sqlite3's SqliteError reaches the parent thread as a bare { code }: rethrown as a plain Error.
const guarded = (what, run) => {
  try {
    return run();
  } catch (error) {
    throw new Error(\`SQLite checkpoint thread: \${what}: \${error && error.code ? error.code + ': ' : ''}\${error && error.message}\`);
  }
};
const db = guarded('open', () => new Database(workerData.file, { fileMustExist: true }));
db.pragma('busy_timeout = 5000');
// A checkpoint copies log frames into the file and reads nothing through the page cache: 64 KiB, not
// SQLite's 2 MB default, kept resident for nothing.
db.pragma('cache_size = -64');
const timer = setInterval(
  () => guarded('checkpoint', () => db.pragma('wal_checkpoint(PASSIVE)')),
  workerData.intervalMs,
);
parentPort.on('message', (message) => {
  if (message && message.type === 'stop') {
    clearInterval(timer);
    db.close();
    parentPort.close();
  }
});
`;

/** SQLite's own default: the writer checkpoints once the log holds 1,000 pages. */
const WRITER_CHECKPOINT_PAGES = 1000;

export interface BackgroundCheckpointOptions {
  /** How often the worker checkpoints (default 100 ms). */
  intervalMs?: number;
  /** The thread failed (its error), or stopped and checkpoints are back on the writer. */
  onError(error: Error): void;
}

export interface BackgroundCheckpoints {
  /** Stops the worker and closes its connection; the writer's connection is left as it is. */
  stop(): Promise<void>;
  /** For tests: the thread itself. */
  readonly worker: Worker;
}

/**
 * Moves the write-ahead log's checkpoints off the writer's connection. better-sqlite3 is synchronous,
 * so a checkpoint the writer runs itself (every 1,000 pages: copy them into the database file, then
 * sync it) stops the event loop for milliseconds; every request waiting behind it pays, and on a
 * busy server that is a refresh in every few hundred. A worker thread with its own connection does it
 * instead while the event loop goes on (README, Performance: p99 at half of peak 19 → 12 ms, +5
 * points of silent sign-ins). The writer's automatic checkpoints are turned off while the worker
 * runs and back on if it stops for any reason, so the log can never grow without bound.
 */
export function startBackgroundCheckpoints(
  writer: SqliteDatabase.Database,
  file: string,
  options: BackgroundCheckpointOptions,
): BackgroundCheckpoints {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    // Not the process's flags: `--input-type=module` would read the source as a module, and a
    // profiler flag would profile this thread too.
    execArgv: [],
    workerData: { driver, file, intervalMs: options.intervalMs ?? 100 },
    // A connection and a timer: a small heap keeps the thread at a few MB of resident memory.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 1, stackSizeMb: 1 },
  });
  // The server's own handles decide when the process ends, not this thread.
  worker.unref();
  writer.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  const exited = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      if (writer.open) writer.pragma(`wal_autocheckpoint = ${WRITER_CHECKPOINT_PAGES}`);
      if (!stopping) {
        options.onError(
          new Error(`the SQLite checkpoint thread stopped (exit code ${code}); the writer checkpoints again`),
        );
      }
      resolve();
    });
  });
  worker.on('error', (error) => options.onError(error));
  return {
    worker,
    async stop() {
      stopping = true;
      // Held from here on: an unreferenced thread would let the process end before its connection
      // closed, with this promise (and the server's shutdown) never settled.
      worker.ref();
      worker.postMessage({ type: 'stop' });
      await exited;
    },
  };
}
