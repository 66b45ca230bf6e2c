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
