import { decodeJwt } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { createProofKey, type ProofKey } from '../test-support/dpop.js';
import { BrowserTokenSource, discover, postForm, type RawResponse } from '../test-support/oidc-client.js';
import { BASE_YAML, startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
/** `dpop: required` (as the sample configuration sets for public clients). */
const REQUIRED = 'acme-desktop';
/** `dpop: optional`: a client whose sessions were issued before DPoP. */
const OPTIONAL = 'acme-meetings';
const API = 'https://api.acme.test';

const DPOP_YAML = BASE_YAML.replace(
  '    download_url: https://downloads.acme.test/desktop\n',
  '    download_url: https://downloads.acme.test/desktop\n    dpop: required\n',
).replace(
  '    redirect_uris: [com.acme.meetings:/oauth2redirect, http://127.0.0.1/callback]\n',
  '    redirect_uris: [com.acme.meetings:/oauth2redirect, http://127.0.0.1/callback]\n    dpop: optional\n',
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(testDatabaseKinds())('DPoP-bound desktop sessions on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;
  let required: BrowserTokenSource;
  let optional: BrowserTokenSource;

  beforeAll(async () => {
    expect(DPOP_YAML).toContain('dpop: required');
    expect(DPOP_YAML).toContain('dpop: optional');
    [server, browser] = await Promise.all([startTestServer({ kind, yaml: DPOP_YAML }), launchBrowser()]);
    required = new BrowserTokenSource(
      await browser.newContext(),
      await discover(server.issuer, REQUIRED),
      BOB,
    );
    optional = new BrowserTokenSource(
      await browser.newContext(),
      await discover(server.issuer, OPTIONAL),
      BOB,
    );
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  const tokenUrl = () => `${server.issuer}/token`;

  /** A code exchange as raw HTTP, with a proof of `key` when given. */
  async function exchange(
    source: BrowserTokenSource,
    clientId: string,
    key?: ProofKey,
    authorization: Record<string, string> = {},
  ): Promise<RawResponse> {
    const issued = await source.code(authorization);
    return postForm(
      tokenUrl(),
      {
        grant_type: 'authorization_code',
        client_id: clientId,
        code: issued.code,
        redirect_uri: issued.pending.redirectUri,
        code_verifier: issued.pending.verifier,
      },
      key ? { dpop: await key.proof('POST', tokenUrl()) } : {},
    );
  }

  async function refresh(
    clientId: string,
    refreshToken: string,
    key?: ProofKey,
    extra: Record<string, string> = {},
  ): Promise<RawResponse> {
    return postForm(
      tokenUrl(),
      { grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken, ...extra },
      key ? { dpop: await key.proof('POST', tokenUrl()) } : {},
    );
  }

  function ok(response: RawResponse): { refreshToken: string; accessToken: string; tokenType: unknown } {
    expect(response.status, response.text).toBe(200);
    return {
      refreshToken: response.json?.refresh_token as string,
      accessToken: response.json?.access_token as string,
      tokenType: response.json?.token_type,
    };
  }

  function expectInvalidGrant(response: RawResponse) {
    expect(response.status, response.text).toBe(400);
    expect(response.json?.error).toBe('invalid_grant');
  }

  async function auditSince(action: string, since: number, count?: number) {
    const read = async () => (await server.parts.repos.audit.query({ action })).filter((e) => e.at >= since);
    // A refusal is audited from the engine's error event, next to its response.
    if (count !== undefined) await expect.poll(async () => (await read()).length).toBe(count);
    return read();
  }

  it('a client with dpop: required gets no tokens without a proof (audited); with one, the tokens are DPoP tokens', async () => {
    const since = Date.now();
    const refused = await exchange(required, REQUIRED);
    expectInvalidGrant(refused);
    const events = await auditSince('token_dpop_refused', since, 1);
    expect(events[0]).toMatchObject({ outcome: 'failure', clientId: REQUIRED });
    expect(events[0]?.details).toMatchObject({ reason: 'proof_missing', grantType: 'authorization_code' });

    const key = await createProofKey();
    const issued = ok(await exchange(required, REQUIRED, key));
    expect(issued.tokenType).toBe('DPoP');
  });

  it('a refresh token taken from the store without its key is refused (audited, the app keeps its session); with the key it works', async () => {
    const key = await createProofKey();
    const stolen = ok(await exchange(required, REQUIRED, key, { resource: API })).refreshToken;
    const since = Date.now();

    expectInvalidGrant(await refresh(REQUIRED, stolen));
    const otherKey = await createProofKey();
    expectInvalidGrant(await refresh(REQUIRED, stolen, otherKey));
    const events = await auditSince('token_dpop_refused', since, 2);
    expect(events.map((e) => e.details.reason).sort()).toEqual(['key_mismatch', 'proof_missing']);
    for (const event of events) {
      expect(event.clientId).toBe(REQUIRED);
      expect(event.userId).toBeTruthy();
      expect(event.details.grantType).toBe('refresh_token');
    }

    // The app, with its key: the refused attempts took nothing from it.
    const next = ok(await refresh(REQUIRED, stolen, key, { resource: API }));
    expect(next.tokenType).toBe('DPoP');
    // RFC 9449 §6.1: the API's JWT access token names the key.
    expect(decodeJwt(next.accessToken).cnf).toEqual({ jkt: key.thumbprint });
    // The rotated chain stays bound to the same key.
    expectInvalidGrant(await refresh(REQUIRED, next.refreshToken, otherKey));
    ok(await refresh(REQUIRED, next.refreshToken, key));
  });

  it('grace window: a retry with the same key is forgiven; a keyless retry of a rotated token ends the family (audited)', async () => {
    const key = await createProofKey();
    const first = ok(await exchange(required, REQUIRED, key)).refreshToken;
    const lost = ok(await refresh(REQUIRED, first, key)).refreshToken;
    await sleep(1_100);
    // The app that lost the response retries with its key: forgiven (the lost successor dies).
    const retried = ok(await refresh(REQUIRED, first, key)).refreshToken;
    expect(retried).not.toBe(lost);

    const second = ok(await refresh(REQUIRED, retried, key)).refreshToken;
    await sleep(1_100);
    const since = Date.now();
    // `retried` was rotated moments ago; presented without the key (a copy), it is theft.
    expectInvalidGrant(await refresh(REQUIRED, retried));
    // The family ended: the app's current token is dead too.
    expectInvalidGrant(await refresh(REQUIRED, second, key));
    const revoked = await auditSince('refresh_family_revoked', since);
    expect(revoked).toHaveLength(1);
    expect(revoked[0]).toMatchObject({ clientId: REQUIRED });
    expect(revoked[0]?.details.reason).toBe('dpop_key_mismatch');
  });

  it('grace window: a retry with another key ends the family', async () => {
    const key = await createProofKey();
    const first = ok(await exchange(required, REQUIRED, key)).refreshToken;
    const current = ok(await refresh(REQUIRED, first, key)).refreshToken;
    await sleep(1_100);
    const since = Date.now();
    expectInvalidGrant(await refresh(REQUIRED, first, await createProofKey()));
    expectInvalidGrant(await refresh(REQUIRED, current, key));
    const revoked = await auditSince('refresh_family_revoked', since);
    expect(revoked.map((e) => e.details.reason)).toEqual(['dpop_key_mismatch']);
  });

  it('migration: a session issued before DPoP keeps working without a proof, and its first refresh with a proof binds it', async () => {
    const legacy = ok(await exchange(optional, OPTIONAL));
    expect(legacy.tokenType).toBe('Bearer');
    // Unbound: refreshes without a proof go on working (until it expires or is refreshed with one).
    const stillLegacy = ok(await refresh(OPTIONAL, legacy.refreshToken));
    expect(stillLegacy.tokenType).toBe('Bearer');

    const key = await createProofKey();
    const bound = ok(await refresh(OPTIONAL, stillLegacy.refreshToken, key));
    expect(bound.tokenType).toBe('DPoP');
    // From now on the chain needs the key (the engine alone would have left it unbound).
    expectInvalidGrant(await refresh(OPTIONAL, bound.refreshToken));
    expectInvalidGrant(await refresh(OPTIONAL, bound.refreshToken, await createProofKey()));
    ok(await refresh(OPTIONAL, bound.refreshToken, key));
  });

  it('migration and the grace window: the unbound token the app bound is forgiven only with the key that bound it', async () => {
    const legacy = ok(await exchange(optional, OPTIONAL)).refreshToken;
    const key = await createProofKey();
    ok(await refresh(OPTIONAL, legacy, key));
    await sleep(1_100);
    const retried = ok(await refresh(OPTIONAL, legacy, key));
    expect(retried.tokenType).toBe('DPoP');
    // The forgiven retry's successor is bound as well.
    expectInvalidGrant(await refresh(OPTIONAL, retried.refreshToken));

    const other = ok(await exchange(optional, OPTIONAL)).refreshToken;
    const current = ok(await refresh(OPTIONAL, other, key)).refreshToken;
    await sleep(1_100);
    // The old unbound token again, without the key: someone else's copy.
    expectInvalidGrant(await refresh(OPTIONAL, other));
    expectInvalidGrant(await refresh(OPTIONAL, current, key));
  });
});

describe('DPoP nonces (sqlite)', () => {
  let servers: TestServer[];

  beforeAll(async () => {
    const yaml = `${DPOP_YAML}dpop: { require_nonce: true }\n`;
    servers = await Promise.all([
      startTestServer({ yaml }),
      startTestServer({ yaml }),
      startTestServer({
        yaml,
        env: { LATCHKEY_SECRET: 'another-secret-0123456789-abcdefghijklmnopqrstuvw' },
      }),
    ]);
  });

  afterAll(async () => {
    await Promise.all((servers ?? []).map((s) => s.dispose()));
  });

  async function tokenRequest(server: TestServer, key: ProofKey, nonce?: string) {
    const url = `${server.issuer}/token`;
    return postForm(
      url,
      { grant_type: 'refresh_token', client_id: REQUIRED, refresh_token: 'not-a-refresh-token' },
      { dpop: await key.proof('POST', url, nonce ? { nonce } : {}) },
    );
  }

  it('require_nonce: a proof without a nonce is answered use_dpop_nonce with one; the nonce works at every process sharing the operator secret, not at another', async () => {
    const [a, b, stranger] = servers as [TestServer, TestServer, TestServer];
    const key = await createProofKey();
    const challenged = await tokenRequest(a, key);
    expect(challenged.status, challenged.text).toBe(400);
    expect(challenged.json?.error).toBe('use_dpop_nonce');
    const nonce = challenged.headers.get('dpop-nonce');
    expect(nonce).toBeTruthy();

    // With the nonce the proof passes (and the made-up refresh token is what is refused).
    for (const server of [a, b]) {
      const answered = await tokenRequest(server, key, nonce as string);
      expect(answered.json?.error, answered.text).toBe('invalid_grant');
    }
    const elsewhere = await tokenRequest(stranger, key, nonce as string);
    expect(elsewhere.json?.error).toBe('use_dpop_nonce');
  });
});
