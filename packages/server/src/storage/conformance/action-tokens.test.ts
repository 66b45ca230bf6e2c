import { expect, it } from 'vitest';
import { newId, randomToken, sha256Base64url } from '../../crypto/ids.js';
import { createRepositories } from '../repositories.js';
import { org } from './test-support/fixtures.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** One-time links, stored hashed (repositories/action-tokens.ts). */
forEachDatabase('action tokens', (store) => {
  it('action tokens are stored hashed and consumed once', async () => {
    await store.repos.organizations.upsertFromConfig(org('tokens', []));
    const user = await store.repos.users.create({
      organizationId: 'tokens',
      email: `t-${newId()}@tokens.test`,
    });
    const token = randomToken();
    const tokenHash = sha256Base64url(token);
    await store.repos.actionTokens.create({
      tokenHash,
      kind: 'password_reset',
      userId: user.id,
      expiresAt: Date.now() + 60_000,
    });
    const row = await store
      .raw()
      .selectFrom('action_tokens')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(token);
    expect(await store.repos.actionTokens.peek(tokenHash, 'password_reset')).toEqual({ userId: user.id });
    expect(await store.repos.actionTokens.consume(tokenHash, 'other_kind')).toBeUndefined();
    const otherRepos = createRepositories(store.other, store.box);
    const results = await Promise.all([
      store.repos.actionTokens.consume(tokenHash, 'password_reset'),
      otherRepos.actionTokens.consume(tokenHash, 'password_reset'),
      store.repos.actionTokens.consume(tokenHash, 'password_reset'),
    ]);
    expect(results.filter((r) => r !== undefined)).toEqual([{ userId: user.id }]);
    expect(await store.repos.actionTokens.peek(tokenHash, 'password_reset')).toBeUndefined();

    const expiredHash = sha256Base64url(randomToken());
    await store.repos.actionTokens.create({
      tokenHash: expiredHash,
      kind: 'password_reset',
      userId: user.id,
      expiresAt: Date.now() - 1,
    });
    expect(await store.repos.actionTokens.consume(expiredHash, 'password_reset')).toBeUndefined();
  });
});
