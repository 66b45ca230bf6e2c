import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import {
  BrowserTokenSource,
  discover,
  type RawResponse,
  refreshRaw,
  simultaneousPosts,
} from '../test-support/oidc-client.js';
import { BASE_YAML, startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const DAVE = { email: 'dave@gamma.test', password: 'dave has a long password' };
const CLIENT = 'acme-desktop';

/**
 * BASE_YAML without the reuse grace (0 disables it), plus an organization whose refresh
 * tokens live 2 s idle and 3 s absolute, so lifetimes can be observed in a short test.
 */
const NO_GRACE_YAML = `${BASE_YAML.replace(
  'users:\n',
  `  - id: gamma
    name: Gamma Inc
    domains: [gamma.test]
    connection: { type: local }
    policy: { refresh_idle_ttl: 2s, refresh_absolute_ttl: 3s }
users:
  - { email: ${DAVE.email}, password: "${DAVE.password}", name: Dave }
`,
)}lifetimes: { refresh_reuse_grace: 0 }\n`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(testDatabaseKinds())('refresh tokens on %s', (kind) => {
  let graceServer: TestServer;
  let noGraceServer: TestServer;
  let browser: Browser;
  /** Bob on the server with the default 30 s grace. */
  let bob: BrowserTokenSource;
  /** Bob on the server with grace 0. */
  let bobNoGrace: BrowserTokenSource;
  /** Dave (tiny lifetimes) on the server with grace 0. */
  let dave: BrowserTokenSource;

  beforeAll(async () => {
    [graceServer, noGraceServer, browser] = await Promise.all([
      startTestServer({ kind }),
      startTestServer({ kind, yaml: NO_GRACE_YAML }),
      launchBrowser(),
    ]);
    const [graceConfig, noGraceConfig] = await Promise.all([
      discover(graceServer.issuer, CLIENT),
      discover(noGraceServer.issuer, CLIENT),
    ]);
    bob = new BrowserTokenSource(await browser.newContext(), graceConfig, BOB);
    bobNoGrace = new BrowserTokenSource(await browser.newContext(), noGraceConfig, BOB);
    dave = new BrowserTokenSource(await browser.newContext(), noGraceConfig, DAVE);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([graceServer?.dispose(), noGraceServer?.dispose()]);
  });

  const refresh = (server: TestServer, token: string) => refreshRaw(server.issuer, CLIENT, token);

  async function refreshOk(server: TestServer, token: string): Promise<string> {
    const response = await refresh(server, token);
    expect(response.status, response.text).toBe(200);
    const next = response.json?.refresh_token;
    expect(typeof next).toBe('string');
    return next as string;
  }

  function expectInvalidGrant(response: RawResponse) {
    expect(response.status, response.text).toBe(400);
    expect(response.json?.error).toBe('invalid_grant');
  }

  /** Two refreshes with one token that reach the server at the same moment. */
  function simultaneousRefreshes(server: TestServer, token: string): Promise<RawResponse[]> {
    const form = { grant_type: 'refresh_token', client_id: CLIENT, refresh_token: token };
    return simultaneousPosts(`${server.issuer}/token`, [form, form]);
  }

  async function userinfoStatus(server: TestServer, accessToken: string): Promise<number> {
    const response = await fetch(`${server.issuer}/me`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    await response.body?.cancel();
    return response.status;
  }

  it('rotation: every refresh returns a new refresh token; presenting an old one after its successor was used is refused and ends the family', async () => {
    const first = (await bob.tokens()).refresh_token as string;
    const seen = new Set([first]);
    let current = first;
    for (let i = 0; i < 3; i += 1) {
      current = await refreshOk(graceServer, current);
      expect(seen.has(current)).toBe(false);
      seen.add(current);
    }
    // The client evidently received the successor of `first` (it used it), so this is a replay even
    // inside the grace window.
    expectInvalidGrant(await refresh(graceServer, first));
    expectInvalidGrant(await refresh(graceServer, current));
  });

  it('rotation with grace 0: the old token is refused as soon as it was rotated', async () => {
    const first = (await bobNoGrace.tokens()).refresh_token as string;
    const second = await refreshOk(noGraceServer, first);
    expect(second).not.toBe(first);
    expectInvalidGrant(await refresh(noGraceServer, first));
  });

  it('race (grace 30 s): of two simultaneous refreshes with one token exactly one succeeds, and the winner’s chain lives on', async () => {
    let token = (await bob.tokens()).refresh_token as string;
    for (let round = 0; round < 5; round += 1) {
      const results = await simultaneousRefreshes(graceServer, token);
      const winners = results.filter((r) => r.status === 200);
      expect(
        winners.length,
        `round ${round}: ${results.map((r) => `${r.status} ${r.text}`).join(' | ')}`,
      ).toBe(1);
      expectInvalidGrant(results.find((r) => r.status !== 200) as RawResponse);
      // A race is not a replay: nothing was revoked, the winner's token still rotates.
      token = winners[0]?.json?.refresh_token as string;
    }
    await refreshOk(graceServer, token);
  });

  it('race (grace 0): of two simultaneous refreshes with one token exactly one succeeds', async () => {
    for (let round = 0; round < 3; round += 1) {
      const token = (await bobNoGrace.tokens()).refresh_token as string;
      const results = await simultaneousRefreshes(noGraceServer, token);
      expect(
        results.filter((r) => r.status === 200).length,
        results.map((r) => `${r.status} ${r.text}`).join(' | '),
      ).toBe(1);
      expectInvalidGrant(results.find((r) => r.status !== 200) as RawResponse);
    }
  });

  it('grace: a rotated token re-presented within the window succeeds once, and the lost successor dies', async () => {
    const lostOriginal = (await bob.tokens()).refresh_token as string;
    // The first rotation completes, but the client never sees its response.
    const lostSuccessor = await refreshOk(graceServer, lostOriginal);
    // The client notices the loss (a timeout, a reset) and retries with the token it still holds. A
    // re-presentation within a second of the rotation counts as part of a race (RACE_SETTLE_MS).
    await sleep(1_100);
    const retried = await refreshOk(graceServer, lostOriginal);
    expect(retried).not.toBe(lostSuccessor);
    // One live chain: the retry's token rotates on. (The successor nobody received is superseded;
    // presenting it would be a fork and end the family: see the next test.)
    const latest = await refreshOk(graceServer, retried);

    // A second re-presentation is a replay: refused, and the whole family is revoked.
    expectInvalidGrant(await refresh(graceServer, lostOriginal));
    expectInvalidGrant(await refresh(graceServer, latest));
  });

  it('grace fork: a thief re-presenting a rotated token after the app’s refresh is answered, but the app’s next refresh revokes the whole family (audited)', async () => {
    const stolen = (await bob.tokens()).refresh_token as string;
    // The app rotates; a thief who copied the old token presents it later, inside the window.
    const appsToken = await refreshOk(graceServer, stolen);
    await sleep(1_100);
    const thiefs = await refresh(graceServer, stolen);
    expect(thiefs.status, thiefs.text).toBe(200);
    const thiefsToken = thiefs.json?.refresh_token as string;
    const thiefsAccess = thiefs.json?.access_token as string;
    expect(await userinfoStatus(graceServer, thiefsAccess)).toBe(200);
    // The app's own successor comes back: the chain was forked. Refused…
    expectInvalidGrant(await refresh(graceServer, appsToken));
    // …and the thief's chain dies with it, access token included.
    expectInvalidGrant(await refresh(graceServer, thiefsToken));
    expect(await userinfoStatus(graceServer, thiefsAccess)).toBe(401);
    const events = await graceServer.parts.repos.audit.query({ action: 'refresh_family_revoked' });
    expect(events[0]).toMatchObject({
      outcome: 'failure',
      clientId: CLIENT,
      details: { reason: 'fork_detected', grantId: expect.any(String) },
    });
    expect(events[0]?.userId).toBeTruthy();
  });

  it('reuse outside the grace (grace 0): presenting a rotated token revokes the family and its access tokens', async () => {
    const first = (await bobNoGrace.tokens()).refresh_token as string;
    const rotated = await refresh(noGraceServer, first);
    expect(rotated.status).toBe(200);
    const second = rotated.json?.refresh_token as string;
    const accessToken = rotated.json?.access_token as string;
    expect(await userinfoStatus(noGraceServer, accessToken)).toBe(200);

    expectInvalidGrant(await refresh(noGraceServer, first));
    expectInvalidGrant(await refresh(noGraceServer, second));
    expect(await userinfoStatus(noGraceServer, accessToken)).toBe(401);
  });

  it('lifetimes per organization: an idle refresh token expires, and the absolute lifetime caps a chain that keeps rotating', async () => {
    // Two chains for Dave (idle 2 s, absolute 3 s), started together to keep the test short.
    const idle = (await dave.tokens()).refresh_token as string;
    let chain = (await dave.tokens()).refresh_token as string;
    const startedAt = Date.now();

    // Rotating every 700 ms never lets the idle lifetime lapse; only the absolute one ends it.
    let refusedAfterMs: number | undefined;
    let rotations = 0;
    while (Date.now() - startedAt < 6_000) {
      await sleep(700);
      const response = await refresh(noGraceServer, chain);
      if (response.status !== 200) {
        expectInvalidGrant(response);
        refusedAfterMs = Date.now() - startedAt;
        break;
      }
      chain = response.json?.refresh_token as string;
      rotations += 1;
    }
    expect(refusedAfterMs, 'the chain outlived its absolute lifetime').toBeDefined();
    // Absolute 3 s counted in whole seconds from the first issue (2 to 3 s from here), seen by the
    // first refresh after it (up to 700 ms later).
    expect(refusedAfterMs).toBeGreaterThanOrEqual(1_900);
    expect(refusedAfterMs).toBeLessThanOrEqual(4_200);
    expect(rotations).toBeGreaterThanOrEqual(2);

    // The first chain was never used: more than 2 s idle, it is gone.
    expectInvalidGrant(await refresh(noGraceServer, idle));

    // Bob's organization keeps the default lifetimes on the same server.
    const bobs = (await bobNoGrace.tokens()).refresh_token as string;
    await refreshOk(noGraceServer, bobs);
  });

  it('each refresh reads the account as it is now: a rename shows in the next ID token, and a user disabled in the database (tokens left alone) is refused at once', async () => {
    const { db } = graceServer.parts.database;
    const first = await refresh(graceServer, (await bob.tokens()).refresh_token as string);
    expect(first.status, first.text).toBe(200);
    const bobId = decodeJwt(first.json?.id_token as string).sub as string;
    expect(decodeJwt(first.json?.id_token as string).name).toBe('Bob Builder');
    let token = first.json?.refresh_token as string;
    const renamed = async (name: string) => {
      await db.updateTable('users').set({ name }).where('id', '=', bobId).execute();
    };
    try {
      await renamed('Robert Builder');
      const response = await refresh(graceServer, token);
      expect(response.status, response.text).toBe(200);
      expect(decodeJwt(response.json?.id_token as string).name).toBe('Robert Builder');
      token = response.json?.refresh_token as string;
      // Disabled behind the server's back (no revocation, as `admin users disable` would do).
      await db.updateTable('users').set({ status: 'disabled' }).where('id', '=', bobId).execute();
      expectInvalidGrant(await refresh(graceServer, token));
    } finally {
      await db
        .updateTable('users')
        .set({ status: 'active', name: 'Bob Builder' })
        .where('id', '=', bobId)
        .execute();
    }
  });

  it('allowed_clients holds at every refresh: an app the organization stops allowing gets invalid_grant, and works again once allowed', async () => {
    const { db } = graceServer.parts.database;
    const beta = await graceServer.parts.repos.organizations.findById('beta');
    const setPolicy = async (policy: unknown) => {
      await db
        .updateTable('organizations')
        .set({ policy: JSON.stringify(policy) })
        .where('id', '=', 'beta')
        .execute();
      await graceServer.parts.organizations.refresh();
    };
    const token = (await bob.tokens()).refresh_token as string;
    try {
      await setPolicy({ ...beta?.policy, allowedClients: ['acme-meetings'] });
      expectInvalidGrant(await refresh(graceServer, token));
    } finally {
      await setPolicy(beta?.policy);
    }
    // The refused refresh wrote nothing: the same token still works.
    await refreshOk(graceServer, token);
  });
});
