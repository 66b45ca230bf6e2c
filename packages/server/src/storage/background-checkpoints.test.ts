import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBackgroundCheckpoints } from './background-checkpoints.js';
import { type Database, openDatabase } from './database.js';

let dir: string;
let file: string;
const open: Database[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-checkpoints-'));
  file = path.join(dir, 'latchkey.db');
});

afterEach(async () => {
  for (const database of open.splice(0)) await database.close();
  await rm(dir, { recursive: true, force: true });
});

async function openFile(background: boolean, errors: Error[] = []): Promise<Database> {
  const database = await openDatabase(`sqlite:${file}`, {
    ...(background ? { backgroundCheckpoints: { intervalMs: 20, onError: (e) => errors.push(e) } } : {}),
  });
  open.push(database);
  return database;
}

/** About 2 MB in 20 transactions: half of what makes the writer checkpoint on its own (1,000 pages). */
async function writeRows(database: Database): Promise<void> {
  await sql`create table blobs (id integer primary key, body text not null)`.execute(database.db);
  for (let t = 0; t < 20; t++) {
    await database.db.transaction().execute(async (trx) => {
      for (let i = 0; i < 25; i++) {
        await sql`insert into blobs (body) values (${'x'.repeat(4000)})`.execute(trx);
      }
    });
  }
}

const fileBytes = () => statSync(file).size;

async function eventually(check: () => boolean, ms = 3_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

describe('SQLite checkpoints on a worker thread', () => {
  it('copies the write-ahead log into the database file while the writer goes on', async () => {
    const errors: Error[] = [];
    const database = await openFile(true, errors);
    await writeRows(database);
    expect(await eventually(() => fileBytes() > 1_900_000)).toBe(true);
    // The log restarts from its beginning once copied: more writes do not grow the database file
    // beyond the data, and every row reads back.
    const rows = await sql<{ n: number }>`select count(*) as n from blobs`.execute(database.db);
    expect(rows.rows[0]?.n).toBe(500);
    expect(errors).toEqual([]);
  });

  it('without it, the same writes stay in the log (the control for the test above)', async () => {
    const database = await openFile(false);
    await writeRows(database);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(fileBytes()).toBeLessThan(100_000);
  });

  it('quiet, the thread stops and the writer checkpoints; busy again, a new thread copies the log; nothing is reported as a failure', async () => {
    const errors: Error[] = [];
    const database = await openFile(true, errors);
    const autocheckpoint = async () =>
      (await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(database.db)).rows[0]
        ?.wal_autocheckpoint;
    expect(await autocheckpoint()).toBe(0);
    await database.quiet?.(true);
    expect(await autocheckpoint()).toBe(1000);
    // Quiet and then busy twice over, the stops and starts in order.
    await Promise.all([database.quiet?.(false), database.quiet?.(true), database.quiet?.(false)]);
    expect(await autocheckpoint()).toBe(0);
    await writeRows(database);
    expect(await eventually(() => fileBytes() > 1_900_000)).toBe(true);
    expect(errors).toEqual([]);
  });

  it('closing leaves the database complete and no log behind', async () => {
    const database = await openFile(true);
    await writeRows(database);
    open.splice(open.indexOf(database), 1);
    await database.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const reopened = new SqliteDatabase(file, { readonly: true });
    expect(reopened.prepare('select count(*) as n from blobs').get()).toEqual({ n: 500 });
    reopened.close();
  });

  it('a process that closes its database at the end of its main module exits normally', async () => {
    // The thread is unreferenced while it runs; closing must hold the process until the thread is
    // gone, or Node.js ends it with the shutdown still pending (exit code 13). Compiled code, as the
    // server runs it.
    const dist = new URL('../../dist/storage/database.js', import.meta.url).href;
    const script = `
      const { openDatabase } = await import(${JSON.stringify(dist)});
      const database = await openDatabase(${JSON.stringify(`sqlite:${file}`)}, {
        backgroundCheckpoints: { onError: (e) => console.error(e.message) },
      });
      await database.ping();
      await database.close();
      console.log('closed');
    `;
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect({ status: run.status, stdout: run.stdout.trim(), stderr: run.stderr.trim() }).toEqual({
      status: 0,
      stdout: 'closed',
      stderr: '',
    });
  });

  it('when the thread dies, says so and puts checkpoints back on the writer', async () => {
    const writer = new SqliteDatabase(file);
    writer.pragma('journal_mode = WAL');
    const errors: Error[] = [];
    const checkpoints = startBackgroundCheckpoints(writer, file, { onError: (e) => errors.push(e) });
    expect(writer.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    await checkpoints.worker.terminate();
    await checkpoints.stop();
    expect(writer.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/checkpoint thread stopped/)]);
    writer.close();
  });

  it('when the thread fails, reports its error and the stop, and the writer checkpoints again', async () => {
    const writer = new SqliteDatabase(file);
    writer.pragma('journal_mode = WAL');
    const errors: Error[] = [];
    // Its connection cannot open: the thread throws at once.
    const checkpoints = startBackgroundCheckpoints(writer, path.join(dir, 'missing.db'), {
      onError: (e) => errors.push(e),
    });
    await new Promise((resolve) => checkpoints.worker.once('exit', resolve));
    expect(writer.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(
        /^SQLite checkpoint thread: open: SQLITE_CANTOPEN: unable to open database file$/,
      ),
      expect.stringMatching(/checkpoint thread stopped \(exit code 1\)/),
    ]);
    writer.close();
  });

  it('a stop that is asked for is not reported as a failure', async () => {
    const writer = new SqliteDatabase(file);
    writer.pragma('journal_mode = WAL');
    const errors: Error[] = [];
    const checkpoints = startBackgroundCheckpoints(writer, file, { onError: (e) => errors.push(e) });
    await checkpoints.stop();
    expect(errors).toEqual([]);
    expect(writer.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    writer.close();
  });
});
