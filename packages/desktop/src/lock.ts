import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FileLockOptions {
  /** Give up after this long. Default 30 s: longer than one refresh with its retry. */
  timeoutMs?: number;
  /** A lock older than this is taken over even if its process seems alive. Default 60 s. */
  staleMs?: number;
}

export interface FileLock {
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  token: string;
  at: number;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A cross-process lock: a file created with O_CREAT|O_EXCL (`wx`), holding the owner's pid. A lock
 * whose owner process is gone, or that is older than `staleMs`, is stale and removed (after checking
 * it is still the same lock, so two waiters do not both remove a fresh one). Waiters poll with a
 * short jittered backoff. Used around refresh-token use so that two processes never present one
 * refresh token twice (which a rotating server treats as theft, RFC 9700 §4.14.2).
 */
export async function acquireFileLock(path: string, options: FileLockOptions = {}): Promise<FileLock> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 60_000;
  const me: Owner = { pid: process.pid, token: randomBytes(8).toString('hex'), at: Date.now() };
  const deadline = Date.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    try {
      const handle = await createExclusive(path);
      await handle.writeFile(JSON.stringify(me));
      await handle.close();
      return {
        async release() {
          const current = await readOwner(path);
          if (current?.token === me.token) await unlink(path).catch(() => {});
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readOwner(path);
    const age = await stat(path).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    // An owner that has not finished writing its pid yet reads as undefined; give it a moment.
    if ((owner && !processAlive(owner.pid)) || age > staleMs) {
      const again = await readOwner(path);
      if (again?.token === owner?.token) await unlink(path).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for the lock ${path}`);
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 100);
  }
}

/**
 * Creates the lock file (`wx`: fails with EEXIST when it exists), and its directory first when that
 * is missing, which is only so before the first lock: an app start saves the mkdir's round trip.
 */
async function createExclusive(path: string) {
  try {
    return await open(path, 'wx', 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    return open(path, 'wx', 0o600);
  }
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}
