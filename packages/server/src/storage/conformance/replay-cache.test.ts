import { expect, it } from 'vitest';
import { randomToken } from '../../crypto/ids.js';
import { createRepositories } from '../repositories.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** One-time use of values across processes (repositories/replay-cache.ts). */
forEachDatabase('replay cache', (store) => {
  it('the replay cache remembers a key once, also under concurrency; expired keys are forgotten', async () => {
    const key = `saml:test:${randomToken(8)}`;
    const otherRepos = createRepositories(store.other, store.box);
    const results = await Promise.all([
      store.repos.replayCache.remember(key, Date.now() + 60_000),
      otherRepos.replayCache.remember(key, Date.now() + 60_000),
      otherRepos.replayCache.remember(key, Date.now() + 60_000),
      store.repos.replayCache.remember(key, Date.now() + 60_000),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.repos.replayCache.remember(key, Date.now() + 60_000)).toBe(false);

    const stale = `stale:${randomToken(8)}`;
    expect(await store.repos.replayCache.remember(stale, Date.now() - 1)).toBe(true);
    expect(await store.repos.replayCache.remember(stale, Date.now() + 60_000)).toBe(true);
    expect(await store.repos.replayCache.remember(stale, Date.now() + 60_000)).toBe(false);
  });
});
