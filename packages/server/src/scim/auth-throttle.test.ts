import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminContext } from '../admin/context.js';
import { createThrottle, memoryThrottleStore } from '../domain/throttle/throttle.js';
import { startTestServer, type TestServer } from '../test-support/server.js';
import { createScimAuthThrottle, SCIM_AUTH_THROTTLE_POLICY, scimAuthThrottleKey } from './auth-throttle.js';
import { adminFor, ERROR_SCHEMA, SCIM_YAML, ScimClient, scimClientFor } from './test-support/scim-client.js';

const FREE = SCIM_AUTH_THROTTLE_POLICY.address?.freeFailures ?? 0;

/**
 * Requests without a valid SCIM token cost their sender, not the audit log: each one is audited until
 * the address has used its free failures, then answered 429 with Retry-After and audited once a
 * minute; a valid token is never held back.
 */
describe('SCIM authentication failures are throttled per address', () => {
  let server: TestServer;
  let admin: AdminContext;
  let scim: ScimClient;

  beforeAll(async () => {
    server = await startTestServer({ yaml: SCIM_YAML });
    admin = await adminFor(server);
    scim = await scimClientFor(admin, 'contoso');
  });

  afterAll(async () => {
    await admin?.close();
    await server?.dispose();
  });

  const audited = async (action: string) =>
    (await server.parts.repos.audit.query({ action, limit: 1000 })).length;

  it(`answers ${FREE} failures with 401 and an audit row each, then 429 with one throttled event`, async () => {
    expect(FREE).toBeGreaterThan(0);
    const stranger = new ScimClient(scim.base, 'lk_scim_not-a-token-we-issued');
    const nobody = new ScimClient(scim.base, undefined);
    const refusedBefore = await audited('scim_request_refused');
    for (let i = 0; i < FREE; i++) {
      const response = await (i % 2 ? stranger : nobody).get('/Users');
      expect(response.status, `failure ${i + 1}`).toBe(401);
    }
    expect(await audited('scim_request_refused')).toBe(refusedBefore + FREE);

    const throttledBefore = await audited('throttled');
    const held = await stranger.get('/Users');
    expect(held.status, held.text).toBe(429);
    expect(Number(held.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(held.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    expect(held.json.schemas).toEqual([ERROR_SCHEMA]);
    expect(held.json.status).toBe('429');
    expect(held.json.detail).toMatch(/retry in \d+ s/);

    // A burst while held back: refused, and no further audit rows (one throttled event a minute).
    const burst = await Promise.all(Array.from({ length: 10 }, () => nobody.get('/Users')));
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(429));
    // A malformed body without a token is the same unauthenticated request: never a 400 about the body.
    const malformed = await nobody.request('POST', '/Users', '{not json');
    expect(malformed.status).toBe(429);
    expect(await audited('scim_request_refused')).toBe(refusedBefore + FREE);
    expect(await audited('throttled')).toBe(throttledBefore + 1);
    const [event] = await server.parts.repos.audit.query({ action: 'throttled', limit: 1 });
    expect(event?.details).toMatchObject({
      scope: 'scim',
      limitedBy: 'address',
      address: scimAuthThrottleKey('127.0.0.1'),
    });

    // The provisioning service's own token works from the same address throughout.
    const listed = await scim.get('/Users');
    expect(listed.status, listed.text).toBe(200);
    // …and a malformed body with a valid token is still told what is wrong with it.
    const bad = await scim.request('POST', '/Users', '{not json');
    expect(bad.status, bad.text).toBe(400);
    expect(bad.json.scimType).toBe('invalidSyntax');
  });
});

describe('createScimAuthThrottle', () => {
  it('counts per address, reports once per interval, and gives the wait in whole seconds', async () => {
    let now = 1_000_000;
    const throttle = createThrottle(
      memoryThrottleStore(),
      { address: { freeFailures: 2, baseDelayMs: 1500, maxDelayMs: 60_000, windowMs: 3_600_000 } },
      { now: () => now },
    );
    const fail = createScimAuthThrottle(throttle, { reportEveryMs: 60_000, now: () => now });
    expect(await fail('198.51.100.7')).toEqual({ held: false });
    expect(await fail('198.51.100.7')).toEqual({ held: false });
    // Another address has its own allowance.
    expect(await fail('203.0.113.9')).toEqual({ held: false });
    const first = await fail('198.51.100.7');
    expect(first).toMatchObject({ held: true, retryAfterSeconds: 2, report: true });
    expect(await fail('198.51.100.7')).toMatchObject({ held: true, report: false });
    now += 60_000;
    // The delay ran out: this failure counts again (not held), and the next one waits twice as long.
    expect(await fail('198.51.100.7')).toEqual({ held: false });
    expect(await fail('198.51.100.7')).toMatchObject({ held: true, retryAfterSeconds: 3, report: true });
  });
});
