import { expect, it } from 'vitest';
import { randomToken } from '../../crypto/ids.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** Per-interaction sign-in progress (repositories/sign-in-states.ts). */
forEachDatabase('sign-in states', (store) => {
  it('sign-in states: put, overwrite, expire, delete', async () => {
    const uid = randomToken(8);
    await store.repos.signInStates.put(uid, { step: 'email' }, Date.now() + 60_000);
    await store.repos.signInStates.put(uid, { step: 'password' }, Date.now() + 60_000);
    expect(await store.repos.signInStates.get(uid)).toEqual({ step: 'password' });
    await store.repos.signInStates.put(uid, { step: 'password' }, Date.now() - 1);
    expect(await store.repos.signInStates.get(uid)).toBeUndefined();
    await store.repos.signInStates.put(uid, { step: 'totp' }, Date.now() + 60_000);
    await store.repos.signInStates.delete(uid);
    expect(await store.repos.signInStates.get(uid)).toBeUndefined();
  });
});

forEachDatabase('sign-in states, several changes at once', (store) => {
  it('write applies its changes in order', async () => {
    const [a, b] = [randomToken(8), randomToken(8)];
    const later = Date.now() + 60_000;
    await store.repos.signInStates.write([
      { id: a, data: { step: 'email' }, expiresAt: later },
      { id: b, data: { step: 'route' }, expiresAt: later },
      { id: a, data: null },
    ]);
    expect(await store.repos.signInStates.get(a)).toBeUndefined();
    expect(await store.repos.signInStates.get(b)).toEqual({ step: 'route' });
  });

  it('write is all or none: a change that fails leaves the others unwritten', async () => {
    const [a, b] = [randomToken(8), randomToken(8)];
    await store.repos.signInStates.put(b, { step: 'email' }, Date.now() + 60_000);
    await expect(
      store.repos.signInStates.write([
        { id: a, data: { step: 'route' }, expiresAt: Date.now() + 60_000 },
        { id: b, data: null },
        // No expiry: the column is NOT NULL, the statement fails.
        { id: randomToken(8), data: { step: 'password' } },
      ]),
    ).rejects.toThrow();
    expect(await store.repos.signInStates.get(a)).toBeUndefined();
    expect(await store.repos.signInStates.get(b)).toEqual({ step: 'email' });
  });
});
