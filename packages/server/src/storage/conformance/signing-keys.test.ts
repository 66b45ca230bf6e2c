import { expect, it } from 'vitest';
import { forEachDatabase } from './test-support/for-each-database.js';

/** Signing and cookie keys with their rotation state (repositories/signing-keys.ts). */
forEachDatabase('signing keys', (store) => {
  it('stores material encrypted and tracks rotation', async () => {
    const now = Date.now();
    const key = (kid: string, createdAt: number) => ({
      kid,
      use: 'sig' as const,
      alg: 'ES256',
      material: `{"d":"private-${kid}"}`,
      activatesAt: createdAt,
      createdAt,
    });
    await store.repos.signingKeys.insert([key('k1', now - 2000), key('k2', now - 1000)]);
    await expect(store.repos.signingKeys.insert([key('k1', now)])).rejects.toThrow();
    const row = await store
      .raw()
      .selectFrom('signing_keys')
      .selectAll()
      .where('kid', '=', 'k1')
      .executeTakeFirstOrThrow();
    expect(row.material).not.toContain('private-k1');
    expect((await store.repos.signingKeys.list()).map((k) => [k.kid, k.material])).toEqual([
      ['k1', '{"d":"private-k1"}'],
      ['k2', '{"d":"private-k2"}'],
    ]);
    await store.repos.signingKeys.retire(['k1'], now - 500, now - 100);
    await store.repos.signingKeys.retire(['k1'], now + 5000, now + 9000); // already retired: unchanged
    const k1 = (await store.repos.signingKeys.list()).find((k) => k.kid === 'k1');
    expect(k1).toMatchObject({ retiresAt: now - 500, expiresAt: now - 100 });
    expect((await store.repos.signingKeys.listActive(now)).map((k) => k.kid)).toEqual(['k2']);
    expect(await store.repos.signingKeys.deleteExpired(now)).toBe(1);
    expect((await store.repos.signingKeys.list()).map((k) => k.kid)).toEqual(['k2']);
  });
});
