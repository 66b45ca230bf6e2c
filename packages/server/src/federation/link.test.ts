import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrganizationPolicy } from '../config/types.js';
import { SecretBox } from '../crypto/secret-box.js';
import { createRepositories, type Repositories } from '../storage/repositories.js';
import { createTestDatabase, testDatabaseKinds } from '../test-support/databases.js';
import { TEST_SECRET } from '../test-support/server.js';
import type { VerifiedIdentity } from './connectors/types.js';
import { type LinkInput, linkIdentity, trustedEmail } from './link.js';

const POLICY: OrganizationPolicy = {
  require2sv: false,
  allowedClients: [],
  jitProvisioning: true,
  refreshIdleTtl: 3600,
  refreshAbsoluteTtl: 7200,
  maxUpstreamAge: 86400,
  upstreamRevalidateInterval: 3600,
};

function identity(overrides: Partial<VerifiedIdentity> = {}): VerifiedIdentity {
  return {
    connectionId: 'acme-oidc',
    subject: 'sub-1',
    email: 'ann@acme.test',
    emailVerified: true,
    name: 'Ann',
    groups: ['eng'],
    authenticatedAt: Date.now(),
    raw: {},
    ...overrides,
  };
}

describe.each(testDatabaseKinds())('linking upstream identities on %s', (kind) => {
  let repos: Repositories;
  let drop: () => Promise<void>;
  const org = (policy: Partial<OrganizationPolicy> = {}): LinkInput['organization'] => ({
    id: 'acme',
    domains: ['acme.test'],
    policy: { ...POLICY, ...policy },
    connectionId: 'acme-oidc',
  });

  beforeAll(async () => {
    const db = await createTestDatabase(kind);
    drop = db.drop;
    repos = createRepositories(db.database, SecretBox.fromSecret(TEST_SECRET));
    for (const id of ['acme', 'other']) {
      await repos.organizations.upsertFromConfig({
        id,
        name: id,
        domains: [`${id}.test`],
        connection: {
          type: 'oidc',
          issuer: 'https://idp.test',
          clientId: 'c',
          scopes: ['openid'],
          extraParams: {},
          claims: { subject: 'sub', email: 'email', name: 'name', groups: 'groups' },
          secondFactor: { proof: 'upstream_claims', trustedAcr: [] },
        },
        policy: POLICY,
      });
    }
  });
  afterAll(async () => drop?.());

  it('an email counts only when vouched for and in one of the organization’s domains (nOAuth)', () => {
    expect(trustedEmail(identity(), ['acme.test'])).toBe('ann@acme.test');
    expect(trustedEmail(identity({ emailVerified: false }), ['acme.test'])).toBeUndefined();
    expect(trustedEmail(identity({ email: 'ann@evil.test' }), ['acme.test'])).toBeUndefined();
  });

  it('creates the user just in time, then finds it again by subject only', async () => {
    const first = await linkIdentity(repos, { identity: identity(), organization: org() });
    expect(first).toMatchObject({ ok: true, created: true, linked: true });
    // Same subject, a changed (even unverified) email: still the same user, never a new one (in an
    // organization that accepts such identities; by default they are refused, below).
    const again = await linkIdentity(repos, {
      identity: identity({ email: 'renamed@acme.test', emailVerified: false }),
      organization: org({ acceptIdentities: 'any' }),
    });
    expect(again).toEqual({ ok: true, userId: first.ok && first.userId, created: false, linked: false });
  });

  it('a second upstream account claiming the same email never merges into the first', async () => {
    const result = await linkIdentity(repos, {
      identity: identity({ subject: 'sub-2' }),
      organization: org(),
    });
    expect(result).toMatchObject({ ok: false, reason: 'email_taken' });
  });

  it('an unverified email creates an account without an email, not a link to someone else', async () => {
    const result = await linkIdentity(repos, {
      identity: identity({ subject: 'sub-3', email: 'ann@acme.test', emailVerified: false }),
      organization: org({ acceptIdentities: 'any' }),
    });
    expect(result).toMatchObject({ ok: true, created: true });
    const user = await repos.users.findById(result.ok ? result.userId : '');
    expect(user?.email).toBeNull();
  });

  it('the identity rule: by default only a vouched-for email in the organization’s domains, naming the claim that failed', async () => {
    const outside = identity({ subject: 'rule-1', email: 'guest@elsewhere.test', emailVerified: true });
    const unverified = identity({ subject: 'rule-2', email: 'ann2@acme.test', emailVerified: false });
    const none = identity({ subject: 'rule-3', email: undefined, emailVerified: false });
    // A known identity is refused too once its upstream email no longer fits (checked on every sign-in).
    expect(await linkIdentity(repos, { identity: outside, organization: org() })).toEqual({
      ok: false,
      reason: 'identity_not_accepted',
      refusal: { claim: 'email', problem: 'outside_domains' },
    });
    expect(await linkIdentity(repos, { identity: unverified, organization: org() })).toMatchObject({
      reason: 'identity_not_accepted',
      refusal: { claim: 'email_verified', problem: 'unverified' },
    });
    expect(await linkIdentity(repos, { identity: none, organization: org() })).toMatchObject({
      reason: 'identity_not_accepted',
      refusal: { claim: 'email', problem: 'missing' },
    });
    expect(await repos.users.findIdentity('acme-oidc', 'rule-1')).toBeUndefined();

    // any_verified: a guest's vouched-for email from another domain, but still no unverified one.
    const guest = await linkIdentity(repos, {
      identity: outside,
      organization: org({ acceptIdentities: 'any_verified' }),
    });
    expect(guest).toMatchObject({ ok: true, created: true });
    // The guest's foreign email is not the account's email (it routes nobody), nor does it link to anyone.
    expect((await repos.users.findById(guest.ok ? guest.userId : ''))?.email).toBeNull();
    expect(
      await linkIdentity(repos, {
        identity: unverified,
        organization: org({ acceptIdentities: 'any_verified' }),
      }),
    ).toMatchObject({ reason: 'identity_not_accepted', refusal: { claim: 'email_verified' } });
    // any: whatever the upstream authenticated.
    expect(
      await linkIdentity(repos, { identity: none, organization: org({ acceptIdentities: 'any' }) }),
    ).toMatchObject({
      ok: true,
    });
  });

  it('links a user set up in advance by a trusted email, also with JIT off', async () => {
    const preset = await repos.users.create({ organizationId: 'acme', email: 'pre@acme.test' });
    const result = await linkIdentity(repos, {
      identity: identity({ subject: 'sub-pre', email: 'pre@acme.test' }),
      organization: org({ jitProvisioning: false }),
    });
    expect(result).toEqual({ ok: true, userId: preset.id, created: false, linked: true });
  });

  it('JIT off refuses an unknown person and creates nothing', async () => {
    const result = await linkIdentity(repos, {
      identity: identity({ subject: 'sub-new', email: 'new@acme.test' }),
      organization: org({ jitProvisioning: false }),
    });
    expect(result).toEqual({ ok: false, reason: 'not_provisioned' });
    expect(await repos.users.findByEmail('new@acme.test')).toBeUndefined();
  });

  it('a disabled user is refused by subject and by email, and stays disabled', async () => {
    const made = await linkIdentity(repos, {
      identity: identity({ subject: 'sub-d', email: 'dee@acme.test' }),
      organization: org(),
    });
    const userId = made.ok ? made.userId : '';
    await repos.users.setStatus(userId, 'disabled');
    expect(
      await linkIdentity(repos, {
        identity: identity({ subject: 'sub-d', email: 'dee@acme.test' }),
        organization: org(),
      }),
    ).toMatchObject({ ok: false, reason: 'account_disabled' });
    expect(
      await linkIdentity(repos, {
        identity: identity({ subject: 'sub-d2', email: 'dee@acme.test' }),
        organization: org(),
      }),
    ).toMatchObject({ ok: false, reason: 'account_disabled' });
    expect((await repos.users.findById(userId))?.status).toBe('disabled');
  });

  it('a user of another organization is never signed in through this one', async () => {
    await repos.users.create({ organizationId: 'other', email: 'x@acme.test' });
    const result = await linkIdentity(repos, {
      identity: identity({ subject: 'sub-x', email: 'x@acme.test' }),
      organization: org(),
    });
    expect(result).toMatchObject({ ok: false, reason: 'wrong_organization' });
  });

  it('two simultaneous first sign-ins of one person end with one linked, active user', async () => {
    const input = {
      identity: identity({ subject: 'sub-race', email: 'race@acme.test' }),
      organization: org(),
    };
    const results = await Promise.all([linkIdentity(repos, input), linkIdentity(repos, input)]);
    const ids = new Set(results.map((r) => (r.ok ? r.userId : r.reason)));
    expect(ids.size).toBe(1);
    const linked = await repos.users.findIdentity('acme-oidc', 'sub-race');
    expect((await repos.users.findById(linked!.userId))?.status).toBe('active');
  });

  it('the upstream refresh token is stored encrypted and kept when a later sign-in brings none', async () => {
    await linkIdentity(repos, {
      identity: identity({
        subject: 'sub-rt',
        email: 'rt@acme.test',
        upstreamRefreshToken: 'upstream-rt-secret',
      }),
      organization: org(),
    });
    await linkIdentity(repos, {
      identity: identity({ subject: 'sub-rt', email: 'rt@acme.test' }),
      organization: org(),
    });
    const found = await repos.users.findIdentity('acme-oidc', 'sub-rt');
    expect(found?.upstreamRefreshToken).toBe('upstream-rt-secret');
  });

  it('links a user provisioned over SCIM by its externalId (the upstream subject), within the organization only', async () => {
    const zed = await repos.users.create({ organizationId: 'acme', email: 'zed@acme.test' });
    await repos.scim.users.save({
      userId: zed.id,
      organizationId: 'acme',
      externalId: '00u-zed',
      attributes: {},
    });
    const foreign = await repos.users.create({ organizationId: 'other', email: 'yan@other.test' });
    await repos.scim.users.save({
      userId: foreign.id,
      organizationId: 'other',
      externalId: '00u-yan',
      attributes: {},
    });
    // The upstream's email is not the one provisioned (an alias in the organization's domain, which
    // the identity rule accepts): the subject decides.
    const linked = await linkIdentity(repos, {
      identity: identity({ subject: '00u-zed', email: 'zed.alias@acme.test', emailVerified: true }),
      organization: org(),
    });
    expect(linked).toEqual({ ok: true, userId: zed.id, created: false, linked: true });
    // Another organization's externalId leads nowhere: a new user just in time, not theirs.
    const other = await linkIdentity(repos, {
      identity: identity({ subject: '00u-yan', email: 'yan@acme.test', emailVerified: true }),
      organization: org(),
    });
    expect(other).toMatchObject({ ok: true, created: true });
    expect(other.ok && other.userId).not.toBe(foreign.id);
  });
});
