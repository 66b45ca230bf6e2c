import { expect, it } from 'vitest';
import { randomToken } from '../../crypto/ids.js';
import { DuplicateError } from '../errors.js';
import { createRepositories } from '../repositories.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** Upstream round trips, consumed once across processes (repositories/upstream-requests.ts). */
forEachDatabase('upstream requests', (store) => {
  it('upstream requests are consumed once, also under concurrency', async () => {
    const id = randomToken(16);
    await store.repos.upstreamRequests.create({
      id,
      connectionId: 'c1',
      interactionUid: 'uid-1',
      data: { nonce: 'n', codeVerifier: 'v' },
      expiresAt: Date.now() + 60_000,
    });
    await expect(
      store.repos.upstreamRequests.create({
        id,
        connectionId: 'c1',
        interactionUid: 'uid-2',
        data: {},
        expiresAt: Date.now() + 60_000,
      }),
    ).rejects.toBeInstanceOf(DuplicateError);
    const otherRepos = createRepositories(store.other, store.box);
    const results = await Promise.all([
      store.repos.upstreamRequests.consume(id),
      otherRepos.upstreamRequests.consume(id),
      otherRepos.upstreamRequests.consume(id),
      store.repos.upstreamRequests.consume(id),
    ]);
    const winners = results.filter((r) => r !== undefined);
    expect(winners).toEqual([
      { connectionId: 'c1', interactionUid: 'uid-1', data: { nonce: 'n', codeVerifier: 'v' } },
    ]);
    expect(await store.repos.upstreamRequests.consume(id)).toBeUndefined();

    const expired = randomToken(16);
    await store.repos.upstreamRequests.create({
      id: expired,
      connectionId: 'c1',
      interactionUid: 'u',
      data: {},
      expiresAt: Date.now() - 1,
    });
    expect(await store.repos.upstreamRequests.consume(expired)).toBeUndefined();
  });
});
