// The load generator, in its own process so its CPU is not charged to the server under test.
// Plain fetch (undici, keep-alive). Commands over IPC: `signIn` and `refresh`.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { httpFederatedSignIn, httpSignIn, serveIpc, sleep, UPSTREAM_USER } from './lib.mjs';

const CLIENT_ID = 'acme-desktop';
const REDIRECT_URI = 'http://127.0.0.1/callback';

/**
 * DPoP (RFC 9449): one ES256 key per chain (by index, kept across calls), as one desktop app has
 * one. The tokens come from unbound sign-ins; the first refresh with a proof binds each chain
 * (Latchkey's migration path), so every measured refresh carries and needs a proof. Proofs are
 * signed with jose, as any client library would; the latest nonce the server sent is used.
 */
const dpopKeys = new Map();
let dpopNonce;
async function dpopKeyOf(i) {
  let key = dpopKeys.get(i);
  if (!key) {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    key = { privateKey, jwk: await exportJWK(publicKey) };
    dpopKeys.set(i, key);
  }
  return key;
}
function dpopProof(key, tokenUrl) {
  return new SignJWT({ htm: 'POST', htu: tokenUrl, ...(dpopNonce ? { nonce: dpopNonce } : {}) })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt()
    .setJti(randomUUID())
    .sign(key.privateKey);
}

async function refreshOnce(tokenUrl, refreshToken, key) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body = `grant_type=refresh_token&client_id=${CLIENT_ID}&refresh_token=${encodeURIComponent(refreshToken)}`;
  let response;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (key) headers.dpop = await dpopProof(key, tokenUrl);
    response = await fetch(tokenUrl, { method: 'POST', headers, body });
    dpopNonce = response.headers.get('dpop-nonce') ?? dpopNonce;
    if (!(key && response.status === 400 && response.headers.get('dpop-nonce'))) break;
    const error = await response.clone().json();
    if (error.error !== 'use_dpop_nonce') break;
  }
  const answer = await response.json();
  if (!response.ok || !answer.refresh_token || !answer.id_token || (key && answer.token_type !== 'DPoP')) {
    throw new Error(`refresh failed (${response.status}): ${JSON.stringify(answer)}`);
  }
  return answer.refresh_token;
}

/** The stand-in IdP's own pages (its email page is skipped: Latchkey passes the email along). */
let signInHeadless;
async function upstreamSignIn(url) {
  signInHeadless ??= (await import(new URL('../packages/standin-idp/dist/index.js', import.meta.url).href))
    .signInHeadless;
  const { callbackUrl } = await signInHeadless(url, UPSTREAM_USER);
  return callbackUrl.href;
}

serveIpc({
  /**
   * `n` complete sign-ins, `concurrency` at a time; returns their refresh tokens and latencies (ms).
   * `federated`: as UPSTREAM_USER, through the organization's IdP instead of a password at Latchkey.
   */
  async signIn({ issuer, n, concurrency = 1, email = 'bob@beta.test', password, federated = false }) {
    const tokens = [];
    const latencies = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(concurrency, n) }, async () => {
        while (next < n) {
          next++;
          const t0 = performance.now();
          const client = { clientId: CLIENT_ID, redirectUri: REDIRECT_URI };
          const body = federated
            ? await httpFederatedSignIn(issuer, { ...client, email: UPSTREAM_USER.email }, upstreamSignIn)
            : await httpSignIn(issuer, { ...client, email, password });
          latencies.push(performance.now() - t0);
          tokens.push(body.refresh_token);
        }
      }),
    );
    return { tokens, latencies, seconds: (performance.now() - started) / 1000 };
  },

  /**
   * Silent sign-ins: one refresh chain per token (so concurrency = tokens.length), each request
   * rotating its token. Closed loop by default; with `rate` (requests/s over all chains) an open-ish
   * loop that paces each chain at rate/chains, for latency at a fraction of peak.
   */
  async refresh({ issuer, tokens, durationMs, warmupMs = 300, rate, dpop = false }) {
    const tokenUrl = new URL('/token', issuer).href;
    const chains = [...tokens];
    const latencies = [];
    let errors = 0;
    let firstError;
    const warmEnd = performance.now() + warmupMs;
    const end = warmEnd + durationMs;
    const interval = rate ? (1000 * chains.length) / rate : 0;
    await Promise.all(
      chains.map(async (_token, i) => {
        // Spread paced chains over one interval so they do not fire in lockstep.
        let due = performance.now() + (interval * i) / chains.length;
        while (performance.now() < end) {
          if (interval) {
            const wait = due - performance.now();
            if (wait > 0) await sleep(wait);
            due += interval;
          }
          const t0 = performance.now();
          try {
            chains[i] = await refreshOnce(tokenUrl, chains[i], dpop ? await dpopKeyOf(i) : undefined);
            if (t0 >= warmEnd) latencies.push(performance.now() - t0);
          } catch (error) {
            errors++;
            firstError ??= String(error);
            await sleep(50);
          }
        }
      }),
    );
    return { latencies, seconds: durationMs / 1000, errors, firstError, tokens: chains };
  },
});

process.send?.({ type: 'ready', pid: process.pid });
