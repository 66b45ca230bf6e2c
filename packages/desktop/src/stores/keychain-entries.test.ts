import { beforeEach, describe, expect, it, vi } from 'vitest';

// A fake @napi-rs/keyring: one in-memory keychain, a count of entries made, and a daemon that can be
// "restarted" (every entry made before that fails, as a dead D-Bus connection would).
const keychain = vi.hoisted(() => ({
  values: new Map<string, string>(),
  made: 0,
  generation: 0,
}));
vi.mock('@napi-rs/keyring', () => ({
  AsyncEntry: class {
    readonly #key: string;
    readonly #generation = keychain.generation;
    constructor(service: string, account: string) {
      keychain.made += 1;
      this.#key = `${service}/${account}`;
    }
    #alive() {
      if (this.#generation !== keychain.generation) throw new Error('D-Bus connection closed');
    }
    async getPassword() {
      this.#alive();
      return keychain.values.get(this.#key);
    }
    async setPassword(value: string) {
      this.#alive();
      keychain.values.set(this.#key, value);
    }
    async deleteCredential() {
      this.#alive();
      if (!keychain.values.delete(this.#key)) throw new Error('No matching entry found in secure storage');
      return true;
    }
  },
}));

const { createKeychainStore } = await import('./keychain-store.js');

describe('keychain store entries', () => {
  beforeEach(() => {
    keychain.values.clear();
    keychain.made = 0;
  });

  it('makes one keyring entry per account for a read and a rewrite (a silent sign-in)', async () => {
    const store = createKeychainStore({ service: 's' });
    await store.write('session', 'first');
    const made = keychain.made;
    expect(await store.read('session')).toBe('first');
    await store.write('session', 'second');
    expect(await store.read('session')).toBe('second');
    expect(keychain.made).toBe(made);
  });

  it('drops kept entries that fail and goes on with new ones (the keychain daemon was restarted)', async () => {
    const store = createKeychainStore({ service: 's' });
    await store.write('session', 'kept');
    keychain.generation += 1;
    expect(await store.read('session')).toBe('kept');
    await store.write('session', 'after restart');
    expect(await store.read('session')).toBe('after restart');
  });

  it('still reports a keychain that keeps failing, as StoreUnavailableError', async () => {
    const store = createKeychainStore({ service: 's' });
    await store.write('session', 'kept');
    const failing = vi.spyOn(keychain.values, 'get').mockImplementation(() => {
      throw new Error('The name org.freedesktop.secrets was not provided');
    });
    try {
      await expect(store.read('session')).rejects.toMatchObject({ code: 'store_unavailable' });
    } finally {
      failing.mockRestore();
    }
  });
});
