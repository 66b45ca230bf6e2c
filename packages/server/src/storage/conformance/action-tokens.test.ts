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

  it('a user has one live link of a kind: a newer link retires the older ones, other users and kinds untouched', async () => {
    await store.repos.organizations.upsertFromConfig(org('single', []));
    const [user, other] = await Promise.all([
      store.repos.users.create({ organizationId: 'single', email: `s-${newId()}@single.test` }),
      store.repos.users.create({ organizationId: 'single', email: `o-${newId()}@single.test` }),
    ]);
    const link = async (userId: string, kind = 'password_reset') => {
      const tokenHash = sha256Base64url(randomToken());
      await store.repos.actionTokens.create({ tokenHash, kind, userId, expiresAt: Date.now() + 60_000 });
      return tokenHash;
    };
    const older = await link(user.id);
    const othersLink = await link(other.id);
    const otherKind = await link(user.id, 'other_kind');
    const newer = await link(user.id);
    expect(await store.repos.actionTokens.consume(older, 'password_reset')).toBeUndefined();
    expect(await store.repos.actionTokens.peek(newer, 'password_reset')).toEqual({ userId: user.id });
    expect(await store.repos.actionTokens.peek(othersLink, 'password_reset')).toEqual({ userId: other.id });
    expect(await store.repos.actionTokens.peek(otherKind, 'other_kind')).toEqual({ userId: user.id });
  });
});
