import { chmod, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../desktop/src/paths.js';
import { buildCli, runCli } from './test-support/run-cli.js';

/**
 * The bin's code cache (bin/latchkey-desktop.cjs), on Node.js versions without a compile cache of
 * their own (20): the compiled bundle is kept per user and reused, and a cache that does not fit
 * (garbage, truncated, another build) costs only a compile, never the command.
 */
const hasOwnCompileCache =
  typeof (Module as { enableCompileCache?: unknown }).enableCompileCache === 'function';
const directories: string[] = [];

beforeAll(async () => {
  await buildCli();
}, 120_000);

afterAll(async () => {
  for (const dir of directories) await rm(dir, { recursive: true, force: true });
});

async function cacheDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-code-cache-'));
  directories.push(dir);
  return join(dir, 'code');
}

/** `latchkey-desktop --help` with the cache in `dir`; what the bin said of the cache, and the usage. */
async function help(dir: string) {
  const result = await runCli(['--help'], { LATCHKEY_CODE_CACHE: dir, LATCHKEY_CODE_CACHE_DEBUG: '1' });
  expect(result.code).toBe(0);
  expect(result.stdout).toContain('Usage: latchkey-desktop <command>');
  return /code cache (absent|used|rejected)/.exec(result.stderr)?.[1];
}

describe.skipIf(hasOwnCompileCache)('the bin code cache (Node.js without module.enableCompileCache)', () => {
  it('is written on the first run, private to the user, and used by the next', async () => {
    const dir = await cacheDir();
    expect(await help(dir)).toBe('absent');
    const [file, ...others] = await readdir(dir);
    expect(others).toEqual([]);
    expect(file).toMatch(/^latchkey-desktop-[0-9a-f]{16}\.bin$/);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, file ?? ''))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, file ?? ''))).size).toBeGreaterThan(10_000);
    expect(await help(dir)).toBe('used');
  }, 60_000);

  it('a damaged cache is rejected, the command runs all the same, and the cache is written anew', async () => {
    const dir = await cacheDir();
    await help(dir);
    const [file = ''] = await readdir(dir);
    const { size } = await stat(join(dir, file));
    await writeFile(join(dir, file), Buffer.alloc(size, 0x5a)); // same length, garbage
    expect(await help(dir)).toBe('rejected');
    expect(await help(dir)).toBe('used');
    await writeFile(join(dir, file), Buffer.alloc(64, 1)); // truncated
    expect(await help(dir)).toBe('rejected');
    expect(await help(dir)).toBe('used');
  }, 60_000);

  it("another build's cache is not read, and is removed when this build's is written", async () => {
    const dir = await cacheDir();
    await help(dir);
    const [file = ''] = await readdir(dir);
    const stale = 'latchkey-desktop-0123456789abcdef.bin';
    await rm(join(dir, file));
    await writeFile(join(dir, stale), 'an older bundle');
    expect(await help(dir)).toBe('absent');
    expect((await readdir(dir)).sort()).toEqual([file]);
  }, 60_000);

  it('a cache others may write is never read (it is replaced by a private one)', async () => {
    const dir = await cacheDir();
    await help(dir);
    const [file = ''] = await readdir(dir);
    await chmod(join(dir, file), 0o666);
    expect(await help(dir)).toBe('absent');
    expect((await stat(join(dir, file))).mode & 0o777).toBe(0o600);
    expect(await help(dir)).toBe('used');
  }, 60_000);

  it("lives by default in code-cache/ of the SDK's own cache directory", async () => {
    const home = await mkdtemp(join(tmpdir(), 'latchkey-code-cache-home-'));
    directories.push(home);
    const env = { XDG_CACHE_HOME: join(home, 'xdg'), HOME: home };
    const result = await runCli(['--help'], { ...env, LATCHKEY_CODE_CACHE_DEBUG: '1' });
    expect(result.code).toBe(0);
    // The SDK's own answer for the same environment (it reads XDG_CACHE_HOME and HOME).
    const saved = { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, HOME: process.env.HOME };
    Object.assign(process.env, env);
    try {
      expect(await readdir(join(defaultCacheDir(), 'code-cache'))).toHaveLength(1);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  }, 60_000);

  it('LATCHKEY_CODE_CACHE=off runs without one', async () => {
    const result = await runCli(['--help'], { LATCHKEY_CODE_CACHE: 'off', LATCHKEY_CODE_CACHE_DEBUG: '1' });
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('code cache');
  }, 60_000);
});
