import { expect, it } from 'vitest';
import { SecretBox } from '../../crypto/secret-box.js';
import { verifyOperatorSecret, WrongSecretError } from '../repositories.js';
import { SECRET } from './test-support/fixtures.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** The operator secret check (repositories.ts, verifyOperatorSecret). */
forEachDatabase('operator secret check', (store) => {
  it('accepts the secret the database was created with and names the mismatch otherwise', async () => {
    await verifyOperatorSecret(store.database, store.box);
    await verifyOperatorSecret(store.database, SecretBox.fromSecret(SECRET));
    const wrongSecret = 'a-different-operator-secret';
    const attempt = verifyOperatorSecret(store.database, SecretBox.fromSecret(wrongSecret));
    await expect(attempt).rejects.toBeInstanceOf(WrongSecretError);
    await expect(attempt).rejects.toThrow(
      /LATCHKEY_SECRET does not match the one this database was created with/,
    );
    await attempt.catch((error: Error) => {
      expect(error.message).not.toContain(wrongSecret);
      expect(error.message).not.toContain(SECRET);
    });
    // The stored check value stays the original one.
    await verifyOperatorSecret(store.database, store.box);
  });
});
