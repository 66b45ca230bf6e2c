import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopVerifier, DpopRefusal } from '../../../../docs/examples/verify-dpop.js';
import { launchBrowser } from '../test-support/browser.js';
import { createProofKey, type ProofKey } from '../test-support/dpop.js';
import { BrowserTokenSource, discover, postForm } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const CLIENT = 'acme-desktop';
const API = 'https://api.acme.test';
const EXAMPLE = new URL('../../../../docs/examples/verify-dpop.ts', import.meta.url);
const GUIDE = new URL('../../../../docs/dpop.md', import.meta.url);

/**
 * What docs/dpop.md tells a resource server to do, done: the guide's code (docs/examples/verify-dpop.ts,
 * shown in the guide verbatim) guards a real HTTP API, called with DPoP-bound RFC 9068 access tokens
 * that a real Latchkey server issued.
 */
describe('a resource server verifying DPoP-bound access tokens as docs/dpop.md shows', () => {
  let server: TestServer;
  let browser: Browser;
  let source: BrowserTokenSource;
  let api: Server;
  let apiUrl: string;
  let key: ProofKey;
  let accessToken: string;
  let opaqueToken: string;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer(), launchBrowser()]);
    source = new BrowserTokenSource(await browser.newContext(), await discover(server.issuer, CLIENT), BOB);
    const verify = createDpopVerifier({ issuer: server.issuer, audience: API });
    api = createServer(async (req, res) => {
      try {
        const claims = await verify({
          method: req.method ?? 'GET',
          url: `http://${req.headers.host}${req.url}`,
          authorization: req.headers.authorization,
          dpop: typeof req.headers.dpop === 'string' ? req.headers.dpop : undefined,
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: claims.sub }));
      } catch (error) {
        if (!(error instanceof DpopRefusal)) throw error;
        res
          .writeHead(401, { 'www-authenticate': `DPoP error="${error.error}", algs="ES256"` })
          .end(error.message);
      }
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/calls`;

    key = await createProofKey();
    const tokenUrl = `${server.issuer}/token`;
    const issued = await source.code({ resource: API });
    const exchanged = await postForm(
      tokenUrl,
      {
        grant_type: 'authorization_code',
        client_id: CLIENT,
        code: issued.code,
        redirect_uri: issued.pending.redirectUri,
        code_verifier: issued.pending.verifier,
      },
      { dpop: await key.proof('POST', tokenUrl) },
    );
    expect(exchanged.status, exchanged.text).toBe(200);
    const refreshToken = exchanged.json?.refresh_token as string;
    const forApi = await postForm(
      tokenUrl,
      { grant_type: 'refresh_token', client_id: CLIENT, refresh_token: refreshToken, resource: API },
      { dpop: await key.proof('POST', tokenUrl) },
    );
    expect(forApi.status, forApi.text).toBe(200);
    accessToken = forApi.json?.access_token as string;
    const refreshed = await postForm(
      tokenUrl,
      { grant_type: 'refresh_token', client_id: CLIENT, refresh_token: forApi.json?.refresh_token as string },
      { dpop: await key.proof('POST', tokenUrl) },
    );
    opaqueToken = refreshed.json?.access_token as string;
  });

  afterAll(async () => {
    await new Promise((resolve) => api?.close(resolve));
    await browser?.close();
    await server?.dispose();
  });

  async function call(headers: Record<string, string>, url = apiUrl) {
    const response = await fetch(url, { headers });
    return {
      status: response.status,
      text: await response.text(),
      challenge: response.headers.get('www-authenticate'),
    };
  }

  it('the guide shows the tested code verbatim', async () => {
    const [example, guide] = await Promise.all([readFile(EXAMPLE, 'utf8'), readFile(GUIDE, 'utf8')]);
    expect(guide).toContain(example.trim());
  });

  it('accepts the token with a proof of its key, for this method, URL and token, once', async () => {
    const proof = await key.proof('GET', apiUrl, { accessToken });
    const first = await call({ authorization: `DPoP ${accessToken}`, dpop: proof });
    expect(first.status, first.text).toBe(200);
    expect(JSON.parse(first.text).sub).toBeTruthy();
    // The query is not part of htu (RFC 9449 §4.3).
    const withQuery = await call(
      { authorization: `DPoP ${accessToken}`, dpop: await key.proof('GET', apiUrl, { accessToken }) },
      `${apiUrl}?page=2`,
    );
    expect(withQuery.status, withQuery.text).toBe(200);
    // The same proof again: a replay.
    const replayed = await call({ authorization: `DPoP ${accessToken}`, dpop: proof });
    expect(replayed.status).toBe(401);
    expect(replayed.text).toContain('already used');
  });

  it('refuses the token as a bearer token, without a proof, or with a proof of another key, method, URL, token or time', async () => {
    const other = await createProofKey();
    const cases: [string, Record<string, string>, string][] = [
      ['bearer', { authorization: `Bearer ${accessToken}` }, 'invalid_token'],
      ['no proof', { authorization: `DPoP ${accessToken}` }, 'invalid_dpop_proof'],
      [
        'another key',
        { authorization: `DPoP ${accessToken}`, dpop: await other.proof('GET', apiUrl, { accessToken }) },
        'invalid_dpop_proof',
      ],
      [
        'another method',
        { authorization: `DPoP ${accessToken}`, dpop: await key.proof('POST', apiUrl, { accessToken }) },
        'invalid_dpop_proof',
      ],
      [
        'another URL',
        {
          authorization: `DPoP ${accessToken}`,
          dpop: await key.proof('GET', apiUrl.replace('/calls', '/messages'), { accessToken }),
        },
        'invalid_dpop_proof',
      ],
      [
        'another token (ath)',
        { authorization: `DPoP ${accessToken}`, dpop: await key.proof('GET', apiUrl, { accessToken: 'x' }) },
        'invalid_dpop_proof',
      ],
      [
        'an old proof',
        {
          authorization: `DPoP ${accessToken}`,
          dpop: await key.proof('GET', apiUrl, { accessToken, iat: Math.floor(Date.now() / 1000) - 600 }),
        },
        'invalid_dpop_proof',
      ],
      [
        'a token for userinfo, not for this API',
        {
          authorization: `DPoP ${opaqueToken}`,
          dpop: await key.proof('GET', apiUrl, { accessToken: opaqueToken }),
        },
        'invalid_token',
      ],
    ];
    for (const [name, headers, error] of cases) {
      const answer = await call(headers);
      expect(answer.status, name).toBe(401);
      expect(answer.challenge, name).toContain(`error="${error}"`);
    }
  });

  it("Latchkey's own endpoints (protocol/access-request.ts) hold the opaque token to the same rules", async () => {
    const url = `${server.issuer}/events`;
    const check = server.parts.checkAccessRequest;
    const proof = await key.proof('GET', url, { accessToken: opaqueToken });
    const accepted = await check({ method: 'GET', url, authorization: `DPoP ${opaqueToken}`, dpop: proof });
    expect(accepted).toMatchObject({ ok: true, clientId: CLIENT, jkt: key.thumbprint });
    expect(accepted.ok && accepted.accountId).toBeTruthy();

    const refusals = [
      await check({ method: 'GET', url, authorization: `DPoP ${opaqueToken}`, dpop: proof }), // replay
      await check({ method: 'GET', url, authorization: `Bearer ${opaqueToken}` }),
      await check({ method: 'GET', url, authorization: `DPoP ${opaqueToken}` }),
      await check({
        method: 'GET',
        url,
        authorization: `DPoP ${opaqueToken}`,
        dpop: await (await createProofKey()).proof('GET', url, { accessToken: opaqueToken }),
      }),
      await check({
        method: 'POST',
        url,
        authorization: `DPoP ${opaqueToken}`,
        dpop: await key.proof('GET', url, { accessToken: opaqueToken }),
      }),
      await check({ method: 'GET', url, authorization: 'DPoP not-a-token', dpop: proof }),
    ];
    for (const refusal of refusals) {
      expect(refusal.ok).toBe(false);
      if (!refusal.ok) {
        expect(refusal.status).toBe(401);
        expect(refusal.wwwAuthenticate).toMatch(/^DPoP error="(invalid_token|invalid_dpop_proof)"/);
      }
    }
  });
});
