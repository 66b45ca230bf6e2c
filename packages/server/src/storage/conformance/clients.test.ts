import { expect, it } from 'vitest';
import { DuplicateError } from '../errors.js';
import { client } from './test-support/fixtures.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** OAuth clients (repositories/clients.ts). */
forEachDatabase('clients', (store) => {
  it('upserts from configuration, adds uniquely, encrypts the secret', async () => {
    await store.repos.clients.upsertFromConfig(client('desk'));
    await store.repos.clients.upsertFromConfig({ ...client('desk'), name: 'Desk 2' });
    expect((await store.repos.clients.find('desk'))?.name).toBe('Desk 2');
    await store.repos.clients.add(client('web-app', 'web-secret-value'));
    await expect(store.repos.clients.add(client('web-app'))).rejects.toBeInstanceOf(DuplicateError);
    await expect(store.repos.clients.add(client('desk'))).rejects.toBeInstanceOf(DuplicateError);
    const web = await store.repos.clients.find('web-app');
    expect(web).toEqual(client('web-app', 'web-secret-value'));
    const row = await store
      .raw()
      .selectFrom('clients')
      .selectAll()
      .where('id', '=', 'web-app')
      .executeTakeFirstOrThrow();
    expect(row.secret).toMatch(/^v1\./);
    expect(JSON.stringify(row)).not.toContain('web-secret-value');
    expect((await store.repos.clients.list()).map((c) => [c.id, c.source])).toEqual(
      expect.arrayContaining([
        ['desk', 'config'],
        ['web-app', 'admin'],
      ]),
    );
    expect(await store.repos.clients.remove('web-app')).toBe(true);
    expect(await store.repos.clients.remove('web-app')).toBe(false);
    expect(await store.repos.clients.find('web-app')).toBeUndefined();
  });
});
