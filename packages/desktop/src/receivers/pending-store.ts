import { createHash } from 'node:crypto';
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { PendingAuthorization } from '../authorization.js';
import { writeFileAtomic } from '../stores/atomic-write.js';

/**
 * Pending private-use-scheme sign-ins, on disk (mode 0600) for the cold start: when the app that
 * started the sign-in is gone by the time the browser hands over the URL, the process the OS starts
 * for that URL finishes the sign-in with this record. A record lives until its redirect arrives or it
 * expires; files are named by a hash of `state`, so the name reveals nothing.
 */
export class PendingStore {
  constructor(private readonly directory: string) {}

  private pathOf(state: string): string {
    return join(this.directory, `${createHash('sha256').update(state).digest('hex').slice(0, 32)}.json`);
  }

  async save(pending: PendingAuthorization): Promise<void> {
    await writeFileAtomic(this.pathOf(pending.state), JSON.stringify(pending), 0o600);
    await this.sweep();
  }

  /** Reads and deletes the record for `state` (one use only); `undefined` when absent or expired. */
  async take(state: string): Promise<PendingAuthorization | undefined> {
    const path = this.pathOf(state);
    let record: PendingAuthorization;
    try {
      record = JSON.parse(await readFile(path, 'utf8')) as PendingAuthorization;
    } catch {
      return undefined;
    }
    try {
      await unlink(path);
    } catch {
      return undefined; // another process took it first
    }
    return record.state === state && record.expiresAt > Date.now() ? record : undefined;
  }

  async remove(state: string): Promise<void> {
    await unlink(this.pathOf(state)).catch(() => {});
  }

  private async sweep(): Promise<void> {
    const names = await readdir(this.directory).catch(() => [] as string[]);
    const cutoff = Date.now() - 60 * 60_000;
    for (const name of names) {
      const path = join(this.directory, name);
      const info = await stat(path).catch(() => undefined);
      if (info && info.mtimeMs < cutoff) await unlink(path).catch(() => {});
    }
  }
}
