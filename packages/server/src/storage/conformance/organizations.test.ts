import { expect, it } from 'vitest';
import { DuplicateError } from '../errors.js';
import { createRepositories } from '../repositories.js';
import { org, policy, race } from './test-support/fixtures.js';
import { forEachDatabase } from './test-support/for-each-database.js';

/** Organizations, their domains and their one connection (repositories/organizations.ts). */
forEachDatabase('organizations', (store) => {
  it('applies configuration idempotently, with the connection secret encrypted', async () => {
    const acme = org('acme', ['Acme.test'], {
      type: 'google',
      clientId: 'google-client',
      clientSecret: 'google-secret-value',
      issuer: 'https://accounts.google.com',
      secondFactor: { proof: 'upstream_claims', trustedAcr: [] },
    });
    await store.repos.organizations.upsertFromConfig(acme);
    await store.repos.organizations.upsertFromConfig(acme);
    const found = await store.repos.organizations.findById('acme');
    expect(found).toMatchObject({ id: 'acme', name: 'Org acme', domains: ['acme.test'], policy });
    expect(found?.connection).toEqual({
      id: 'acme-google',
      type: 'google',
      settings: {
        clientId: 'google-client',
        issuer: 'https://accounts.google.com',
        secondFactor: { proof: 'upstream_claims', trustedAcr: [] },
      },
      secrets: { clientSecret: 'google-secret-value' },
    });
    const row = await store
      .raw()
      .selectFrom('connections')
      .selectAll()
      .where('organization_id', '=', 'acme')
      .executeTakeFirstOrThrow();
    expect(row.secrets).toMatch(/^v1\./);
    expect(row.secrets).not.toContain('google-secret-value');
    expect(row.settings).not.toContain('google-secret-value');
    expect((await store.repos.organizations.connection('acme'))?.secrets.clientSecret).toBe(
      'google-secret-value',
    );
    expect((await store.repos.organizations.findByDomain('ACME.test'))?.id).toBe('acme');
    expect(await store.repos.organizations.findByDomain('nobody.test')).toBeUndefined();
  });

  it('a domain belongs to one organization', async () => {
    await store.repos.organizations.upsertFromConfig(org('beta', ['beta.test']));
    await expect(
      store.repos.organizations.upsertFromConfig(org('gamma', ['beta.test'])),
    ).rejects.toBeInstanceOf(DuplicateError);
    await store.repos.organizations.upsertFromConfig(org('gamma', []));
    await expect(store.repos.organizations.addDomain('gamma', 'BETA.test', null)).rejects.toBeInstanceOf(
      DuplicateError,
    );
    const { fulfilled, rejected } = await race([
      store.repos.organizations.addDomain('beta', 'contested.test', null),
      createRepositories(store.other, store.box).organizations.addDomain('gamma', 'contested.test', null),
    ]);
    expect(fulfilled).toHaveLength(1);
    expect(rejected[0]?.reason).toBeInstanceOf(DuplicateError);
  });

  it('tracks domain verification', async () => {
    await store.repos.organizations.addDomain('gamma', 'pending.test', 'token-1');
    expect(await store.repos.organizations.findDomain('pending.test')).toEqual({
      domain: 'pending.test',
      organizationId: 'gamma',
      verificationToken: 'token-1',
      verifiedAt: null,
    });
    const gamma = async () => (await store.repos.organizations.listWithDetails({ id: 'gamma' }))[0];
    // Claimed (no one else may take it) but not routing sign-ins until verified.
    expect((await gamma())?.domains).toContain('pending.test');
    expect((await gamma())?.verifiedDomains).not.toContain('pending.test');
    expect(await store.repos.organizations.markDomainVerified('pending.test')).toBe(true);
    expect((await gamma())?.verifiedDomains).toContain('pending.test');
    expect(await store.repos.organizations.markDomainVerified('pending.test')).toBe(false);
    expect((await store.repos.organizations.findDomain('pending.test'))?.verifiedAt).toEqual(
      expect.any(Number),
    );
    expect((await store.repos.organizations.listDomains('gamma')).map((d) => d.domain)).toContain(
      'pending.test',
    );
    expect(await store.repos.organizations.removeDomain('PENDING.test')).toBe(true);
    expect(await store.repos.organizations.findDomain('pending.test')).toBeUndefined();
  });

  it('replaces the one connection in place', async () => {
    const id = await store.repos.organizations.setConnection('gamma', {
      type: 'oidc',
      issuer: 'https://idp.test',
      clientId: 'c',
      clientSecret: 's3cret',
    });
    expect(id).toBe('gamma-oidc');
    await store.repos.organizations.setConnection('gamma', {
      type: 'oidc',
      issuer: 'https://idp2.test',
      clientId: 'c',
    });
    const connection = await store.repos.organizations.connectionById('gamma-oidc');
    expect(connection).toMatchObject({ organizationId: 'gamma', secrets: {} });
    expect(connection?.settings.issuer).toBe('https://idp2.test');
    const count = await store
      .raw()
      .selectFrom('connections')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('organization_id', '=', 'gamma')
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });
});
