import { expect, it } from 'vitest';
import type { TokenStore } from '../stores/token-store.js';

/**
 * The token store contract (see `TokenStore`), written once and run against every store: memory,
 * file, keychain, and any store an app writes (an Electron `safeStorage` store, for example).
 */
export function tokenStoreConformance(makeStore: () => TokenStore | Promise<TokenStore>): void {
  const key = (name: string) => `latchkey-conformance:${name}:${Math.random().toString(36).slice(2)}`;

  it('passes its own check (if it has one), without leaving a value behind', async () => {
    const store = await makeStore();
    await store.check?.();
    expect(await store.read(key('after-check'))).toBeUndefined();
  });

  it('reads undefined for a key never written', async () => {
    const store = await makeStore();
    expect(await store.read(key('missing'))).toBeUndefined();
  });

  it('round-trips a value and replaces it', async () => {
    const store = await makeStore();
    const k = key('roundtrip');
    await store.write(k, 'first');
    expect(await store.read(k)).toBe('first');
    await store.write(k, 'second');
    expect(await store.read(k)).toBe('second');
    await store.delete(k);
  });

  it('round-trips long values (chunked where the backend limits size) and non-ASCII text', async () => {
    const store = await makeStore();
    const k = key('long');
    const long = `${'r'.repeat(3000)}.${'é✓'.repeat(500)}.${'x'.repeat(4321)}`;
    await store.write(k, long);
    expect(await store.read(k)).toBe(long);
    await store.write(k, 'short again');
    expect(await store.read(k)).toBe('short again');
    await store.write(k, long.slice(0, 2600));
    expect(await store.read(k)).toBe(long.slice(0, 2600));
    await store.delete(k);
    expect(await store.read(k)).toBeUndefined();
  });

  it('deletes, and deleting a missing key succeeds', async () => {
    const store = await makeStore();
    const k = key('delete');
    await store.write(k, 'value');
    await store.delete(k);
    expect(await store.read(k)).toBeUndefined();
    await store.delete(k);
  });

  it('keeps keys independent', async () => {
    const store = await makeStore();
    const [a, b] = [key('a'), key('b')];
    await store.write(a, 'value a');
    await store.write(b, 'value b');
    await store.delete(a);
    expect(await store.read(b)).toBe('value b');
    await store.delete(b);
  });

  it('never shows a reader a torn value during concurrent writes', async () => {
    const store = await makeStore();
    const k = key('atomic');
    const values = ['A'.repeat(2500), 'B'.repeat(2600), 'C'.repeat(10)];
    await store.write(k, values[0] as string);
    const writes = Promise.all(values.map((value) => store.write(k, value)));
    const reads: (string | undefined)[] = [];
    for (let i = 0; i < 5; i++) reads.push(await store.read(k));
    await writes;
    for (const value of [...reads, await store.read(k)]) expect(values).toContain(value);
    await store.delete(k);
  });
}
