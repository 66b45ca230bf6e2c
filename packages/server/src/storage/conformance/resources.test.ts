import { expect, it } from 'vitest';
import { forEachDatabase } from './test-support/for-each-database.js';

/** Resources, the APIs access tokens are for (repositories/resources.ts). */
forEachDatabase('resources', (store) => {
  it('resources', async () => {
    await store.repos.resources.upsert({ id: 'https://api.test', name: 'API', scopes: ['a'] });
    await store.repos.resources.upsert({
      id: 'https://api.test',
      name: 'API',
      scopes: ['a', 'b'],
      accessTokenTtl: 600,
    });
    expect(await store.repos.resources.find('https://api.test')).toEqual({
      id: 'https://api.test',
      name: 'API',
      scopes: ['a', 'b'],
      accessTokenTtl: 600,
    });
    expect(await store.repos.resources.list()).toHaveLength(1);
    expect(await store.repos.resources.remove('https://api.test')).toBe(true);
  });
});
