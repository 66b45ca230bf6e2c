import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../errors.js';
import { startSecretService } from '../test-support/secret-service.js';
import { tokenStoreConformance } from '../test-support/store-conformance.js';
import { createKeychainStore, defaultChunkSize, isKeychainAvailable } from './keychain-store.js';

// A private Secret Service (gnome-keyring under dbus-run-session) for this test file's process.
const secretService = await startSecretService();
if (!secretService.available) console.warn(`[keychain store] skipped: ${secretService.reason}`);

afterAll(async () => {
  await secretService.stop();
});

describe.skipIf(!secretService.available)('keychain store (Secret Service)', () => {
  beforeAll(async () => {
    expect(await isKeychainAvailable()).toBe(true);
  });
  tokenStoreConformance(() => createKeychainStore({ service: 'latchkey-test' }));

  it('splits long values into chunks of at most chunkSize characters (Windows limit)', async () => {
    const store = createKeychainStore({ service: 'latchkey-test', chunkSize: 100 });
    const value = 'z'.repeat(1234);
    await store.write('chunked', value);
    const { AsyncEntry } = await import('@napi-rs/keyring');
    const head = await new AsyncEntry('latchkey-test', 'chunked').getPassword();
    expect(head).toMatch(/^lk1:c:[0-9a-f]+:13$/);
    expect(await store.read('chunked')).toBe(value);
    await store.delete('chunked');
    expect(await store.read('chunked')).toBeUndefined();
  });

  it('keeps a session (refresh token, ID token, account) in one entry outside Windows, and takes over chunked ones', async () => {
    expect(defaultChunkSize('win32')).toBe(1000);
    expect(defaultChunkSize('linux')).toBe(16_000);
    expect(defaultChunkSize('darwin')).toBe(16_000);
    const { AsyncEntry } = await import('@napi-rs/keyring');
    const head = () => new AsyncEntry('latchkey-test', 'session').getPassword();
    // Written in chunks (as by a store with the Windows limit), then rewritten with the default.
    await createKeychainStore({ service: 'latchkey-test', chunkSize: 1000 }).write(
      'session',
      'a'.repeat(3000),
    );
    const chunked = await head();
    expect(chunked).toMatch(/^lk1:c:[0-9a-f]+:3$/);
    const store = createKeychainStore({ service: 'latchkey-test' });
    expect(await store.read('session')).toBe('a'.repeat(3000));
    await store.write('session', 'b'.repeat(3000));
    expect(await head()).toBe(`lk1:v:${'b'.repeat(3000)}`);
    // The old chunks are gone.
    const generation = chunked?.split(':')[2];
    expect(await new AsyncEntry('latchkey-test', `session#${generation}#0`).getPassword()).toBeFalsy();
    await store.delete('session');
  });
});

describe('keychain store without a Secret Service', () => {
  let child: ChildProcess | undefined;
  afterAll(() => child?.kill());
  it('fails with StoreUnavailableError naming the file store', async () => {
    // A D-Bus session with no keyring on it: what a headless Linux box looks like.
    const home = await mkdtemp(join(tmpdir(), 'latchkey-nokeyring-'));
    child = spawn('dbus-run-session', ['--', 'sh', '-c', 'echo "$DBUS_SESSION_BUS_ADDRESS"; exec sleep 60'], {
      env: { ...process.env, HOME: home },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const address = await new Promise<string>((resolve, reject) => {
      child?.once('error', reject);
      createInterface({ input: child?.stdout as NodeJS.ReadableStream }).once('line', resolve);
    }).catch(() => undefined);
    if (!address) return;
    const code = `const { createKeychainStore } = await import(${JSON.stringify(new URL('./keychain-store.ts', import.meta.url).pathname)});
      try { await createKeychainStore().read('x'); console.log('no error'); } catch (e) { console.log(e.code + ' ' + e.message); }
      try { await createKeychainStore().check(); console.log('check passed'); } catch (e) { console.log('check ' + e.code); }`;
    const probe = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      env: { ...process.env, HOME: home, DBUS_SESSION_BUS_ADDRESS: address },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    probe.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    await new Promise((resolve) => probe.on('exit', resolve));
    await rm(home, { recursive: true, force: true });
    expect(out).toMatch(/^store_unavailable /);
    expect(out).toMatch(/file store/);
    expect(out).toMatch(/^check store_unavailable$/m);
    expect(StoreUnavailableError).toBeDefined();
  });
});
