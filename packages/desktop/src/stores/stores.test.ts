import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import { tokenStoreConformance } from '../test-support/store-conformance.js';
import { createFileStore } from './file-store.js';
import { createMemoryStore } from './memory-store.js';

const directories: string[] = [];
afterAll(async () => {
  for (const dir of directories) await rm(dir, { recursive: true, force: true });
});
async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-store-'));
  directories.push(dir);
  return dir;
}

describe('memory store', () => {
  tokenStoreConformance(() => createMemoryStore());
});

describe('file store', () => {
  let directory: string;
  tokenStoreConformance(async () => {
    directory ??= await tempDir();
    return createFileStore({ directory, secret: 'test secret', onWarning: () => {} });
  });

  it('warns, writes 0600 files in a 0700 directory, and encrypts', async () => {
    const dir = join(await tempDir(), 'tokens');
    const warnings: string[] = [];
    const store = createFileStore({ directory: dir, onWarning: (m) => warnings.push(m) });
    expect(warnings[0]).toMatch(/encrypted files/);
    await store.write('k', 'refresh-token-value');
    const [file] = await readdir(dir);
    expect((await stat(join(dir, file as string))).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    const { readFile } = await import('node:fs/promises');
    expect(await readFile(join(dir, file as string), 'utf8')).not.toContain('refresh-token-value');
    expect(await store.read('k')).toBe('refresh-token-value');
  });

  it('check fails with StoreUnavailableError when the directory cannot be written', async () => {
    const file = join(await tempDir(), 'not-a-directory');
    await writeFile(file, 'x');
    const store = createFileStore({ directory: join(file, 'tokens'), secret: 's', onWarning: () => {} });
    expect(store.check).toBeTypeOf('function');
    await expect(store.check?.()).rejects.toBeInstanceOf(StoreUnavailableError);
    const directory = join(await tempDir(), 'tokens');
    await createFileStore({ directory, secret: 's', onWarning: () => {} }).check?.();
    expect(await readdir(directory)).toEqual([]);
  });

  it('refuses to decrypt with another secret', async () => {
    const dir = await tempDir();
    await createFileStore({ directory: dir, secret: 'one', onWarning: () => {} }).write('k', 'v');
    const other = createFileStore({ directory: dir, secret: 'two', onWarning: () => {} });
    await expect(other.read('k')).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('is shared between processes (another process reads what this one wrote)', async () => {
    const dir = await tempDir();
    await createFileStore({ directory: dir, secret: 's', onWarning: () => {} }).write(
      'shared',
      'from parent',
    );
    const url = new URL('./file-store.ts', import.meta.url).pathname;
    const code = `const { createFileStore } = await import(${JSON.stringify(url)});
      process.stdout.write(await createFileStore({ directory: ${JSON.stringify(dir)}, secret: 's', onWarning: () => {} }).read('shared'));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    await new Promise((resolve) => child.on('exit', resolve));
    expect(out).toBe('from parent');
  });
});
