import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OrganizationPolicy } from '../config/types.js';
import { SecretBox } from '../crypto/secret-box.js';
import type { Database } from '../storage/database.js';
import { createRepositories, type Repositories } from '../storage/repositories.js';
import { createTestDatabase } from '../test-support/databases.js';
import { TEST_SECRET } from '../test-support/server.js';
import type { ConnectorSource } from './connector-source.js';
import { type RedirectConnector, UpstreamError } from './connectors/types.js';
import { createRevalidator } from './revalidate.js';

const POLICY: OrganizationPolicy = {
  require2sv: false,
  allowedClients: [],
  jitProvisioning: true,
  refreshIdleTtl: 3600,
  refreshAbsoluteTtl: 7200,
  maxUpstreamAge: 3600,
  upstreamRevalidateInterval: 60,
};

/** The decisions of refresh re-validation, with the upstream's answer scripted and the clock moved. */
describe('refresh re-validation', () => {
  let database: Database;
  let repos: Repositories;
  let drop: () => Promise<void>;
  let userId: string;
  let answer: () => Promise<{ status: 'valid'; upstreamRefreshToken?: string } | { status: 'revoked' }>;
  let calls: { subject: string; upstreamRefreshToken?: string | undefined }[];
  let revoked: string[];
  let clock: number;

  const connector: RedirectConnector = {
    kind: 'redirect',
    type: 'oidc',
    id: 'acme-oidc',
    startSignIn: async () => ({ url: 'https://idp.test', pending: {} }),
    finishSignIn: async () => {
      throw new Error('unused');
    },
    revalidate: async (identity) => {
      calls.push(identity);
      return answer();
    },
  };
  const connectors: ConnectorSource = { forOrganization: async () => connector };

  const revalidator = () =>
    createRevalidator({
      database,
      repos,
      connectors,
      policyFor: () => POLICY,
      connectionOf: () => ({ id: 'acme-oidc', type: 'oidc' }),
      revokeAllForUser: async (id) => {
        revoked.push(id);
        return 1;
      },
      now: () => clock,
      timeoutMs: 200,
    });

  beforeAll(async () => {
    const db = await createTestDatabase('sqlite');
    database = db.database;
    drop = db.drop;
    repos = createRepositories(database, SecretBox.fromSecret(TEST_SECRET));
    await repos.organizations.upsertFromConfig({
      id: 'acme',
      name: 'Acme',
      domains: ['acme.test'],
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
    const user = await repos.users.create({ organizationId: 'acme', email: 'ann@acme.test' });
    userId = user.id;
    await repos.users.linkIdentity({
      userId,
      connectionId: 'acme-oidc',
      subject: 'sub-1',
      profile: {},
      upstreamRefreshToken: 'rt-1',
    });
  });
  afterAll(async () => drop?.());

  beforeEach(async () => {
    calls = [];
    revoked = [];
    answer = async () => ({ status: 'valid' });
    // Signed in upstream just now.
    const identity = await repos.users.findIdentity('acme-oidc', 'sub-1');
    await repos.users.updateIdentity(identity!.id, { authenticated: true });
    clock = Date.now();
  });

  const user = () => ({ id: userId, organizationId: 'acme' });

  it('does not ask the upstream within the interval', async () => {
    expect(await revalidator().check(user())).toBe('fresh');
    expect(calls).toHaveLength(0);
  });

  it('asks with the decrypted upstream refresh token past the interval, and stores a rotated one', async () => {
    clock += 61_000;
    answer = async () => ({ status: 'valid', upstreamRefreshToken: 'rt-2' });
    expect(await revalidator().check(user())).toBe('valid');
    expect(calls).toEqual([{ subject: 'sub-1', upstreamRefreshToken: 'rt-1' }]);
    expect((await repos.users.findIdentity('acme-oidc', 'sub-1'))?.upstreamRefreshToken).toBe('rt-2');
    // Validated now: the next refresh inside the interval does not ask again.
    expect(await revalidator().check(user())).toBe('fresh');
  });

  it('revokes everything of the user when the upstream refuses the account', async () => {
    clock += 61_000;
    answer = async () => ({ status: 'revoked' });
    expect(await revalidator().allowRefresh(user())).toBe(false);
    expect(revoked).toEqual([userId]);
    const [event] = await repos.audit.query({ action: 'upstream_revalidate', userId });
    expect(event).toMatchObject({ outcome: 'failure', details: { reason: 'upstream_revoked' } });
  });

  it('keeps the session when the upstream cannot be reached or hangs, and asks again next time', async () => {
    clock += 61_000;
    answer = async () => {
      throw new UpstreamError('upstream_unreachable', 'down');
    };
    expect(await revalidator().allowRefresh(user())).toBe(true);
    answer = () => new Promise(() => {});
    expect(await revalidator().check(user())).toBe('unreachable');
    expect(revoked).toEqual([]);
    answer = async () => ({ status: 'valid' });
    expect(await revalidator().check(user())).toBe('valid');
  });

  it('refuses once the upstream sign-in is older than maxUpstreamAge, without revoking', async () => {
    clock += POLICY.maxUpstreamAge * 1000 + 1;
    expect(await revalidator().allowRefresh(user())).toBe(false);
    expect(calls).toHaveLength(0);
    expect(revoked).toEqual([]);
  });

  it('one of two concurrent refreshes asks the upstream (a rotating refresh token is used once)', async () => {
    clock += 61_000;
    const results = await Promise.all([revalidator().check(user()), revalidator().check(user())]);
    expect(results.sort()).toEqual(['claimed_elsewhere', 'valid']);
    expect(calls).toHaveLength(1);
  });
});
