import { createHash } from 'node:crypto';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

/**
 * The per-user cache directory for discovery metadata, lock files and pending sign-ins:
 * `$XDG_CACHE_HOME/latchkey` (Linux), `~/Library/Caches/latchkey` (macOS), `%LOCALAPPDATA%\latchkey\Cache`
 * (Windows). Nothing secret lives there except, for a few minutes, the PKCE verifier of a pending
 * private-use-scheme sign-in (useless without the code the browser delivers to this user's app).
 */
export function defaultCacheDir(): string {
  const home = homedir();
  if (process.platform === 'win32') {
    return join(process.env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'latchkey', 'Cache');
  }
  if (process.platform === 'darwin') return join(home, 'Library', 'Caches', 'latchkey');
  return join(process.env.XDG_CACHE_HOME || join(home, '.cache'), 'latchkey');
}

export function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

/**
 * The local socket a running app listens on while a private-use-scheme sign-in is pending. Per user:
 * on Unix it sits in `$XDG_RUNTIME_DIR` (mode 0700) or the cache directory; on Windows it is a named
 * pipe whose name carries the user name. Kept short: Unix socket paths are limited to ~104 bytes.
 */
export function defaultSocketPath(cacheDir: string, issuer: string, clientId: string): string {
  const id = shortHash(cacheDir, issuer, clientId);
  if (process.platform === 'win32') return `\\\\.\\pipe\\latchkey-${userInfo().username}-${id}`;
  const runtime = process.env.XDG_RUNTIME_DIR;
  return join(runtime || cacheDir, `latchkey-${id}.sock`);
}
