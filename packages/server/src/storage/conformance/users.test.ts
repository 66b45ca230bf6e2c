import { beforeAll, expect, it } from 'vitest';
import { DuplicateError } from '../errors.js';
import { createRepositories } from '../repositories.js';
import { org, race } from './test-support/fixtures.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** Users and their upstream identities (repositories/users.ts). */
forEachDatabase('users and identities', (store) => {
  beforeAll(async () => {
    await store.repos.organizations.upsertFromConfig(org('people', ['people.test']));
  });

  it('creates, finds by id and normalized email, lists, sets status, touches sign-in', async () => {
    const user = await store.repos.users.create({
      organizationId: 'people',
      email: ' Ada@People.test ',
      name: 'Ada',
    });
    expect(user).toMatchObject({ organizationId: 'people', status: 'active', lastSignInAt: null });
    expect(await store.repos.users.findById(user.id)).toEqual(user);
    expect((await store.repos.users.findByEmail('ada@people.TEST'))?.id).toBe(user.id);
    expect(await store.repos.users.findByEmail('nobody@people.test')).toBeUndefined();
    expect(await store.repos.users.setStatus(user.id, 'disabled')).toBe(true);
    expect((await store.repos.users.findById(user.id))?.status).toBe('disabled');
    expect(await store.repos.users.setStatus('missing', 'disabled')).toBe(false);
    await store.repos.users.touchLastSignIn(user.id);
    expect((await store.repos.users.findById(user.id))?.lastSignInAt).toEqual(expect.any(Number));
    const listed = await store.repos.users.list({ organizationId: 'people' });
    expect(listed.map((u) => u.id)).toContain(user.id);
    expect(listed.every((u) => u.organizationId === 'people')).toBe(true);
    // Users without an email do not collide with each other.
    await store.repos.users.create({ organizationId: 'people' });
    await store.repos.users.create({ organizationId: 'people' });
  });

  it('an email belongs to one user, also under concurrency', async () => {
    await store.repos.users.create({ organizationId: 'people', email: 'bob@people.test' });
    await expect(
      store.repos.users.create({ organizationId: 'people', email: 'BOB@people.test' }),
    ).rejects.toBeInstanceOf(DuplicateError);
    const otherRepos = createRepositories(store.other, store.box);
    const { fulfilled, rejected } = await race([
      store.repos.users.create({ organizationId: 'people', email: 'carol@people.test' }),
      otherRepos.users.create({ organizationId: 'people', email: 'Carol@people.test' }),
      otherRepos.users.create({ organizationId: 'people', email: 'carol@PEOPLE.test' }),
    ]);
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(2);
    for (const r of rejected) expect(r.reason).toBeInstanceOf(DuplicateError);
  });

  it('identities are unique per (connection, subject); the upstream refresh token is encrypted', async () => {
    const user = await store.repos.users.create({ organizationId: 'people', email: 'dan@people.test' });
    const identity = await store.repos.users.linkIdentity({
      userId: user.id,
      connectionId: 'people-oidc',
      subject: 'sub-1',
      email: 'dan@people.test',
      profile: { groups: ['eng'] },
      upstreamRefreshToken: 'upstream-rt-1',
    });
    expect(await store.repos.users.findIdentity('people-oidc', 'sub-1')).toEqual(identity);
    expect(identity.upstreamRefreshToken).toBe('upstream-rt-1');
    expect(await store.repos.users.findIdentity('people-oidc', 'sub-2')).toBeUndefined();
    expect(await store.repos.users.findIdentity('other-connection', 'sub-1')).toBeUndefined();
    await expect(
      store.repos.users.linkIdentity({
        userId: user.id,
        connectionId: 'people-oidc',
        subject: 'sub-1',
        profile: {},
      }),
    ).rejects.toBeInstanceOf(DuplicateError);
    // The same subject at another connection is another identity.
    await store.repos.users.linkIdentity({
      userId: user.id,
      connectionId: 'people-saml',
      subject: 'sub-1',
      profile: {},
    });

    const row = await store
      .raw()
      .selectFrom('identities')
      .select('upstream_refresh_token')
      .where('id', '=', identity.id)
      .executeTakeFirstOrThrow();
    expect(row.upstream_refresh_token).toMatch(/^v1\./);
    expect(row.upstream_refresh_token).not.toContain('upstream-rt-1');

    await store.repos.users.updateIdentity(identity.id, {
      profile: { groups: ['ops'] },
      upstreamRefreshToken: 'upstream-rt-2',
      authenticated: true,
    });
    await store.repos.users.updateIdentity(identity.id, {});
    const updated = await store.repos.users.findIdentity('people-oidc', 'sub-1');
    expect(updated?.upstreamRefreshToken).toBe('upstream-rt-2');
    expect(updated?.profile).toEqual({ groups: ['ops'] });
    expect(await store.repos.users.groupsOf(user.id)).toEqual(expect.any(Array));
    expect(await store.repos.users.identitiesOf(user.id)).toHaveLength(2);
  });
});
