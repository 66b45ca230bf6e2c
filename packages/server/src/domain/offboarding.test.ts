import { sql } from 'kysely';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { BrowserTokenSource, discover, type RawResponse, refreshRaw } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { disableUserEverywhere } from './offboarding.js';

const CLIENT = 'acme-desktop';
const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };

/**
 * Offboarding as one transaction (domain/offboarding.ts), against a started server holding a real
 * refresh token issued through the browser sign-in.
 */
describe.each(testDatabaseKinds())('disableUserEverywhere on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  let bob: BrowserTokenSource;
  let bobId: string;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ kind }), launchBrowser()]);
    bob = new BrowserTokenSource(await browser.newContext(), await discover(server.issuer, CLIENT), BOB);
    bobId = (await server.parts.repos.users.findByEmail(BOB.email))?.id as string;
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  const refresh = (token: string) => refreshRaw(server.issuer, CLIENT, token);
  const expectInvalidGrant = (response: RawResponse) => {
    expect(response.status, response.text).toBe(400);
    expect(response.json?.error).toBe('invalid_grant');
  };
  const deps = () => ({ database: server.parts.database, sessions: server.parts.sessions });
  const records = async () =>
    (
      await server.parts.database.db
        .selectFrom('oidc_records')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('account_id', '=', bobId)
        .executeTakeFirstOrThrow()
    ).n;
  const audits = async () => server.parts.repos.audit.query({ userId: bobId, action: 'user_disabled' });

  it('a failure inside the transaction (the audit write) leaves the user active and every token usable', async () => {
    const token = (await bob.tokens()).refresh_token as string;
    const before = Number(await records());
    expect(before).toBeGreaterThan(0);
    const { db } = server.parts.database;
    // A real failure at the last statement: the audit table is not there for a moment.
    await sql`ALTER TABLE audit_events RENAME TO audit_events_away`.execute(db);
    try {
      await expect(
        disableUserEverywhere(deps(), bobId, { actor: 'test', reason: 'test_failure' }),
      ).rejects.toThrow();
    } finally {
      await sql`ALTER TABLE audit_events_away RENAME TO audit_events`.execute(db);
    }
    expect((await server.parts.repos.users.findById(bobId))?.status).toBe('active');
    expect(Number(await records())).toBe(before);
    expect(await audits()).toEqual([]);
    const response = await refresh(token);
    expect(response.status, response.text).toBe(200);
  });

  it('disables, revokes every record and audits: the refresh token stays dead even after the user is enabled again', async () => {
    const token = (await bob.tokens()).refresh_token as string;
    const result = await disableUserEverywhere(deps(), bobId, {
      actor: 'admin:test',
      reason: 'admin_disable',
    });
    expect(result).toMatchObject({ userId: bobId, organizationId: 'beta', wasActive: true });
    expect(result?.revoked).toBeGreaterThan(0);
    expect(Number(await records())).toBe(0);
    expect((await server.parts.repos.users.findById(bobId))?.status).toBe('disabled');
    const [event] = await audits();
    expect(event).toMatchObject({
      actor: 'admin:test',
      organizationId: 'beta',
      details: { reason: 'admin_disable', revoked: result?.revoked, wasActive: true },
    });
    expectInvalidGrant(await refresh(token));
    // Not merely refused for the status: the token is gone.
    await server.parts.repos.users.setStatus(bobId, 'active');
    expectInvalidGrant(await refresh(token));
  });

  it('an unknown user id writes nothing', async () => {
    const before = (await server.parts.repos.audit.query({ action: 'user_disabled' })).length;
    expect(
      await disableUserEverywhere(deps(), 'no-such-user', { actor: 'test', reason: 'x' }),
    ).toBeUndefined();
    expect((await server.parts.repos.audit.query({ action: 'user_disabled' })).length).toBe(before);
  });
});
