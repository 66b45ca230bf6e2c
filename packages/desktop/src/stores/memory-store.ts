import type { TokenStore } from './token-store.js';

/** A store that forgets everything when the process ends: tests, kiosks, one-shot scripts. */
export function createMemoryStore(): TokenStore {
  const values = new Map<string, string>();
  return {
    kind: 'memory',
    async read(key) {
      return values.get(key);
    },
    async write(key, value) {
      values.set(key, value);
    },
    async delete(key) {
      values.delete(key);
    },
  };
}
