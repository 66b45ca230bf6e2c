import { spawn } from 'node:child_process';
import { access, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { acquireFileLock } from './lock.js';

const dir = await mkdtemp(join(tmpdir(), 'latchkey-lock-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

it('serializes holders in one process', async () => {
  const path = join(dir, 'a.lock');
  const order: string[] = [];
  const hold = async (name: string) => {
    const lock = await acquireFileLock(path);
    order.push(`${name}+`);
    await new Promise((r) => setTimeout(r, 30));
    order.push(`${name}-`);
    await lock.release();
  };
  await Promise.all([hold('a'), hold('b'), hold('c')]);
  for (let i = 0; i < order.length; i += 2) expect(order[i]?.[0]).toBe(order[i + 1]?.[0]);
});

it('takes over a lock whose owner process is gone', async () => {
  const path = join(dir, 'stale.lock');
  const dead = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => dead.on('exit', r));
  await writeFile(path, JSON.stringify({ pid: dead.pid, token: 'old', at: Date.now() }));
  const started = Date.now();
  const lock = await acquireFileLock(path, { timeoutMs: 2000 });
  expect(Date.now() - started).toBeLessThan(1000);
  await lock.release();
});

it('times out while a live owner holds it', async () => {
  const path = join(dir, 'held.lock');
  const lock = await acquireFileLock(path);
  await expect(acquireFileLock(path, { timeoutMs: 200 })).rejects.toThrow(/Timed out/);
  await lock.release();
});

it('creates its directory, private, when it is missing (the first lock on a machine)', async () => {
  const path = join(dir, 'new', 'cache', 'first.lock');
  const [first, second] = [acquireFileLock(path), acquireFileLock(path, { timeoutMs: 2000 })];
  const lock = await first;
  expect((await stat(join(dir, 'new', 'cache'))).mode & 0o777).toBe(0o700);
  expect((await stat(path)).mode & 0o777).toBe(0o600);
  await lock.release();
  // The second waiter raced the first through the missing directory, and gets the lock next.
  await (await second).release();
  await expect(access(path)).rejects.toThrow();
});
