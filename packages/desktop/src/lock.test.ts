import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
