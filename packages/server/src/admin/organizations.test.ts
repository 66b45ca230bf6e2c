import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/load.js';
import { openAdmin } from '../main/open-admin.js';
import { TEST_SECRET } from '../test-support/server.js';
import type { AdminContext } from './context.js';
import { hasVerificationRecord, type TxtResolver } from './domain-verification.js';
import { AdminError } from './errors.js';
import { addDomain, addOrganization, listDomains, setConnection, verifyDomain } from './organizations.js';

let dir: string;
let ctx: AdminContext;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-admin-'));
  const config = await loadConfig({
    cwd: dir,
    env: { LATCHKEY_DATABASE_URL: `sqlite:${path.join(dir, 'db.sqlite')}`, LATCHKEY_SECRET: TEST_SECRET },
  });
  ctx = await openAdmin(config, { actor: 'test' });
  await addOrganization(ctx, { id: 'acme', name: 'Acme' });
});

afterAll(async () => {
  await ctx?.close();
  await rm(dir, { recursive: true, force: true });
});

const resolverWith =
  (records: Record<string, string[][]>): TxtResolver =>
  async (hostname) => {
    const found = records[hostname];
    if (found) return found;
    throw Object.assign(new Error(`queryTxt ENODATA ${hostname}`), { code: 'ENODATA' });
  };

async function rejection(promise: Promise<unknown>): Promise<AdminError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AdminError);
  return error as AdminError;
}

describe('domain verification by DNS TXT record', () => {
  it('a domain added with verification waits for its TXT record, then verifies', async () => {
    const added = await addDomain(ctx, { organizationId: 'acme', domain: 'Acme.Test', verify: true });
    expect(added).toMatchObject({ domain: 'acme.test', verified: false });
    const record = added.txtRecord as string;
    expect(record).toMatch(/^latchkey-verification=[\w-]{20,}$/);

    // No record at all, then only someone else's record: not verified, and the error says what to publish.
    const none = await rejection(verifyDomain(ctx, 'acme.test', resolverWith({})));
    expect(none.code).toBe('verification_failed');
    expect(none.message).toContain(record);
    const other = resolverWith({ 'acme.test': [['v=spf1 -all'], ['latchkey-verification=someone-else']] });
    expect((await rejection(verifyDomain(ctx, 'acme.test', other))).code).toBe('verification_failed');
    expect((await listDomains(ctx)).find((d) => d.domain === 'acme.test')?.verified).toBe(false);

    // A long record arrives split in 255-byte strings: they are joined before comparing.
    const split = resolverWith({ 'acme.test': [['v=spf1 -all'], [record.slice(0, 10), record.slice(10)]] });
    const verified = await verifyDomain(ctx, 'acme.test', split);
    expect(verified).toMatchObject({ domain: 'acme.test', verified: true, txtRecord: null });
    expect((await listDomains(ctx)).find((d) => d.domain === 'acme.test')?.verified).toBe(true);

    const events = await ctx.repos.audit.query({ action: 'domain_verified' });
    expect(events.map((e) => e.outcome)).toEqual(['success', 'failure', 'failure']);
    expect(events.every((e) => e.actor === 'test')).toBe(true);
  });

  it('DNS failures other than "no record" reach the operator', async () => {
    const failing: TxtResolver = async () => {
      throw Object.assign(new Error('queryTxt ETIMEOUT x'), { code: 'ETIMEOUT' });
    };
    await expect(hasVerificationRecord('x.test', 'token', failing)).rejects.toThrow(/ETIMEOUT/);
    expect(await hasVerificationRecord('x.test', 'token', resolverWith({}))).toBe(false);
  });

  it('a domain belongs to one organization; unknown domains and organizations are named', async () => {
    await addOrganization(ctx, { id: 'other', name: 'Other' });
    expect(
      (await rejection(addDomain(ctx, { organizationId: 'other', domain: 'acme.test' }))).message,
    ).toMatch(/already belongs to organization acme/);
    expect((await rejection(addDomain(ctx, { organizationId: 'nope', domain: 'n.test' }))).code).toBe(
      'not_found',
    );
    expect((await rejection(addDomain(ctx, { organizationId: 'acme', domain: 'not a domain' }))).code).toBe(
      'invalid',
    );
    expect((await rejection(verifyDomain(ctx, 'missing.test', resolverWith({})))).code).toBe('not_found');
  });
});

describe('connections', () => {
  it('validates with the configuration schema and names the flag', async () => {
    const badIssuer = await rejection(
      setConnection(ctx, 'acme', { type: 'oidc', issuer: 'not a url', client_id: 'x' }),
    );
    expect(badIssuer.message).toMatch(/^--issuer: /);
    const noOpenid = await rejection(
      setConnection(ctx, 'acme', {
        type: 'oidc',
        issuer: 'https://idp.test',
        client_id: 'x',
        scopes: ['email'],
      }),
    );
    expect(noOpenid.message).toMatch(/^--scopes: must include openid/);

    const set = await setConnection(ctx, 'acme', {
      type: 'oidc',
      issuer: 'https://login.microsoftonline.com/tenant/v2.0',
      client_id: 'app',
      client_secret: 'very secret',
      entra_tenant_id: 'tenant',
    });
    expect(set.connection).toMatchObject({ type: 'oidc', clientId: 'app', entraTenantId: 'tenant' });
    expect(JSON.stringify(set)).not.toContain('very secret');
    const stored = await ctx.repos.organizations.connection('acme');
    expect(stored).toMatchObject({ type: 'oidc', secrets: { clientSecret: 'very secret' } });
  });
});
