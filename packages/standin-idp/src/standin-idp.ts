import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import {
  AccountDirectory,
  claimsFor,
  DEFAULT_ENTRA_TENANT_ID,
  entraPairwiseSubject,
  type StandinAccount,
  type StandinProfile,
  type StandinUser,
} from './accounts.js';
import { createMemoryAdapter } from './memory-adapter.js';
import { renderMessagePage, renderSignInPage, type SignInStep } from './pages.js';
import { totpValid } from './totp.js';

export interface StandinClient {
  client_id: string;
  /** Omit for a public client (PKCE only). */
  client_secret?: string | undefined;
  redirect_uris: string[];
  /** Default `client_secret_basic` with a secret, `none` without. */
  token_endpoint_auth_method?:
    | 'client_secret_basic'
    | 'client_secret_post'
    | 'private_key_jwt'
    | 'none'
    | undefined;
  /** The client's public keys (JWK Set), for `private_key_jwt`. */
  jwks?: { keys: Record<string, unknown>[] } | undefined;
  client_name?: string | undefined;
}

export interface StandinIdpOptions {
  /** 0 (the default) picks a free port. */
  port?: number | undefined;
  /** Default 127.0.0.1: the stand-in never listens beyond loopback unless told to. */
  host?: string | undefined;
  users: StandinUser[];
  /** Default `google`. */
  profile?: StandinProfile | undefined;
  clients: StandinClient[];
  /** Entra profile: the tenant id (`tid`) of every account. */
  tenantId?: string | undefined;
  /**
   * Put `amr` in the ID token (`pwd`, plus `otp` after the 2-step page), as Entra ID and many OIDC
   * providers do. Google does not, which is the default.
   */
  reportAmr?: boolean | undefined;
  /**
   * Put `email`, `email_verified` and `name` in the UserInfo response only, never in the ID token, as
   * LemonLDAP::NG and ADFS do by default (OpenID Connect Core §5.4 allows it).
   */
  profileClaimsInUserinfoOnly?: boolean | undefined;
  /** UserInfo answers with another `sub` than the ID token (a broken or hostile provider), for tests. */
  userinfoSubjectMismatch?: boolean | undefined;
  /**
   * Which client authentication methods discovery advertises (and the token endpoint accepts). Default
   * oidc-provider's: client_secret_basic, client_secret_jwt, client_secret_post, private_key_jwt, none.
   */
  tokenEndpointAuthMethods?: string[] | undefined;
}

/** An authorization request as it reached the stand-in, for tests to assert on. */
export interface RecordedRequest {
  /** Epoch ms. */
  at: number;
  method: string;
  path: string;
  /** Query parameters (login_hint, hd, code_challenge, code_challenge_method, nonce, state, prompt…). */
  params: Record<string, string>;
}

export interface StandinIdp {
  readonly issuer: string;
  /** Base URL of the HTTP server (the same as the issuer here). */
  readonly url: string;
  readonly profile: StandinProfile;
  readonly tenantId: string;
  /** Every authorization request received, oldest first; also served at `GET /__standin/requests`. */
  readonly requests: RecordedRequest[];
  /** A disabled user cannot sign in, and codes and refresh tokens issued to them fail with invalid_grant. */
  setUserDisabled(email: string, disabled: boolean): void;
  /** The account id (Google `sub`, Entra `oid`) the stand-in uses for a user. */
  accountIdOf(email: string): string;
  close(): Promise<void>;
}

/** Per-interaction sign-in progress. The interaction record cannot hold custom state, so it lives here. */
interface SignInProgress {
  email?: string | undefined;
  passwordOk?: boolean | undefined;
  /** "Not you?" was clicked: stop pre-filling the hinted email. */
  ignoreHint?: boolean | undefined;
}

const AUTHORIZATION_PATH = '/auth';
const INTERACTION_ROUTE = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(email|password|totp|abort|switch))?$/;

function signingKeys(): { keys: Record<string, unknown>[] } {
  // Fresh keys per start: nothing the stand-in signs verifies against any other instance.
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return {
    keys: [
      { ...rsa, kid: `rs-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' },
      { ...ec, kid: `es-${randomBytes(6).toString('hex')}`, alg: 'ES256', use: 'sig' },
    ],
  };
}

function samePassword(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-frame-options': 'DENY',
  });
  res.end(body);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store' });
  res.end();
}

/**
 * Starts a real OpenID Provider (oidc-provider, in-memory storage, its own keys) on loopback that
 * imitates Google or Microsoft Entra ID closely enough to test Latchkey's upstream connectors: the
 * sign-in pages (email, password, 2-step verification), the claims, refresh tokens, and the request
 * parameters it was sent.
 */
export async function startStandinIdp(options: StandinIdpOptions): Promise<StandinIdp> {
  const profile = options.profile ?? 'google';
  const tenantId = options.tenantId ?? DEFAULT_ENTRA_TENANT_ID;
  const host = options.host ?? '127.0.0.1';
  const directory = new AccountDirectory(options.users, profile);
  const requests: RecordedRequest[] = [];
  const progress = new Map<string, SignInProgress>();

  let handler: (req: IncomingMessage, res: ServerResponse) => Promise<void> = async (_req, res) => {
    send(res, 503, 'text/plain', 'starting');
  };
  const server = createServer((req, res) => {
    handler(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain', 'stand-in IdP error');
      else res.end();
      console.error('stand-in IdP:', err);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const provider: Provider = new Provider(issuer, {
    adapter: createMemoryAdapter(),
    clients: options.clients.map((c) => ({
      client_id: c.client_id,
      ...(c.client_secret ? { client_secret: c.client_secret } : {}),
      ...(c.client_name ? { client_name: c.client_name } : {}),
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method:
        c.token_endpoint_auth_method ?? (c.client_secret ? 'client_secret_basic' : 'none'),
      ...(c.jwks ? { jwks: c.jwks } : {}),
      id_token_signed_response_alg: 'RS256',
      // Entra's `sub` differs per application; oidc-provider's pairwise subjects imitate that.
      ...(profile === 'entra' ? { subject_type: 'pairwise' } : {}),
    })),
    jwks: signingKeys() as Configuration['jwks'],
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount(_ctx, id) {
      const account = directory.activeById(id);
      if (!account) return undefined;
      return {
        accountId: account.accountId,
        claims: () => claimsFor(account, profile, tenantId) as never,
      };
    },
    claims:
      profile === 'entra'
        ? {
            openid: ['sub', 'tid', 'oid', 'ver', 'groups', ...(options.reportAmr ? ['amr'] : [])],
            email: ['email', 'xms_edov'],
            profile: ['name', 'preferred_username'],
          }
        : {
            openid: ['sub', 'hd', ...(options.reportAmr ? ['amr'] : [])],
            email: ['email', 'email_verified'],
            profile: ['name'],
          },
    // Like Google and Entra: the ID token carries the profile claims, not only the userinfo endpoint.
    // `conformIdTokenClaims` keeps scope-requested claims out of an ID token issued with an access
    // token (OIDC Core §5.4): UserInfo is then the only place they are.
    conformIdTokenClaims: options.profileClaimsInUserinfoOnly === true,
    ...(options.tokenEndpointAuthMethods
      ? { clientAuthMethods: options.tokenEndpointAuthMethods as never }
      : {}),
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: (_ctx, accountId, client) => entraPairwiseSubject(accountId, client.clientId),
    // No consent page: the configured clients are the only ones, and they get what they ask for.
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const { client, session, result } = ctx.oidc;
      const accountId = session?.accountId;
      if (!client || !session || !accountId) return undefined;
      const grantId = result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      let grant = grantId ? await provider.Grant.find(grantId) : undefined;
      if (!grant || grant.accountId !== accountId) {
        grant = new provider.Grant({ clientId: client.clientId, accountId });
      }
      grant.addOIDCScope(ctx.oidc.requestParamOIDCScopes);
      grant.addOIDCClaims(ctx.oidc.requestParamClaims);
      await grant.save();
      return grant;
    },
    // Google issues refresh tokens on `access_type=offline`, Entra on `offline_access`; the stand-in
    // issues one to every client allowed the grant, and keeps it beyond the browser session.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: () => false,
    // Google keeps a refresh token until it is revoked; Entra rotates it on every use.
    rotateRefreshToken: profile === 'entra',
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 180 * 24 * 3600,
      RefreshToken: 180 * 24 * 3600,
    },
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = renderMessagePage(
        profile,
        'Sign-in error',
        `${String(out.error)}: ${String(out.error_description ?? '')}`,
      );
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('stand-in IdP server_error:', err));
  const oidcCallback = provider.callback();

  const complete = async (
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    account: StandinAccount,
  ) => {
    progress.delete(uid);
    const amr = account.user.totpSecret ? ['pwd', 'otp'] : ['pwd'];
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: account.accountId, amr } },
      { mergeWithLastSubmission: false },
    );
  };

  async function interactionRoute(
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    action: string | undefined,
  ): Promise<void> {
    let details: Awaited<ReturnType<Provider['interactionDetails']>>;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      send(
        res,
        400,
        'text/html; charset=utf-8',
        renderMessagePage(
          profile,
          'Session expired',
          'This sign-in has expired. Go back to the app and start again.',
        ),
      );
      return;
    }
    if (details.uid === uid && details.prompt.name === 'consent' && details.session?.accountId) {
      // Asked for explicitly (`prompt=consent`): there is no consent page, the configured clients get
      // what they ask for.
      const { accountId } = details.session;
      const clientId = String(details.params.client_id);
      let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
      if (!grant || grant.accountId !== accountId) grant = new provider.Grant({ clientId, accountId });
      grant.addOIDCScope(String(details.params.scope ?? 'openid'));
      const grantId = await grant.save();
      await provider.interactionFinished(
        req,
        res,
        { consent: { grantId } },
        { mergeWithLastSubmission: true },
      );
      return;
    }
    if (details.uid !== uid || details.prompt.name !== 'login') {
      send(
        res,
        400,
        'text/html; charset=utf-8',
        renderMessagePage(profile, 'Error', 'Unexpected sign-in step.'),
      );
      return;
    }
    const base = `/interaction/${uid}`;
    const state = progress.get(uid) ?? {};
    progress.set(uid, state);
    const client = await provider.Client.find(String(details.params.client_id));
    const page = (step: SignInStep, error?: string, status = 200) =>
      send(
        res,
        status,
        'text/html; charset=utf-8',
        renderSignInPage({ profile, uid, step, email: state.email, clientName: client?.clientName, error }),
      );

    if (action === 'abort') {
      progress.delete(uid);
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user cancelled the sign-in.' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (action === 'switch') {
      progress.set(uid, { ignoreHint: true });
      redirect(res, base);
      return;
    }
    if (req.method === 'GET' && action === undefined) {
      if (state.email && state.passwordOk) return page('totp');
      if (state.email) return page('password');
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint : '';
      if (hint && !state.ignoreHint) {
        // Like Google: a hinted, known account goes straight to the password page with the email shown.
        const hinted = directory.byEmail(hint);
        state.email = hinted ? hinted.user.email : hint;
        if (hinted) return page('password');
      }
      return page('email');
    }
    if (req.method !== 'POST') {
      send(res, 405, 'text/plain', 'method not allowed');
      return;
    }
    const form = await readForm(req);
    if (action === 'email') {
      const email = form.get('email')?.trim() ?? '';
      state.email = email;
      if (!directory.byEmail(email)) return page('email', "Couldn't find your account.", 400);
      redirect(res, base);
      return;
    }
    const account = state.email ? directory.byEmail(state.email) : undefined;
    if (!account) {
      progress.set(uid, { ignoreHint: true });
      redirect(res, base);
      return;
    }
    if (action === 'password') {
      if (!samePassword(form.get('password') ?? '', account.user.password)) {
        return page('password', 'Wrong password. Try again.', 400);
      }
      if (account.disabled) return page('password', 'This account has been disabled.', 403);
      if (!account.user.totpSecret) return complete(req, res, uid, account);
      state.passwordOk = true;
      redirect(res, base);
      return;
    }
    if (action === 'totp') {
      if (!state.passwordOk || !account.user.totpSecret) {
        redirect(res, base);
        return;
      }
      const code = (form.get('code') ?? '').replace(/\s+/g, '');
      if (!(await totpValid(account.user.totpSecret, code)))
        return page('totp', 'Wrong code. Try again.', 400);
      return complete(req, res, uid, account);
    }
    send(res, 404, 'text/plain', 'not found');
  }

  handler = async (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/__standin/requests') {
      if (req.method === 'DELETE') requests.length = 0;
      send(res, 200, 'application/json', JSON.stringify(requests));
      return;
    }
    if (url.pathname === '/__standin/users' && req.method === 'POST') {
      // For tests in other processes: { "email": "...", "disabled": true }
      const body = (await readJson(req)) as { email?: unknown; disabled?: unknown };
      try {
        idp.setUserDisabled(String(body.email), body.disabled === true);
        send(res, 204, 'text/plain', '');
      } catch (err) {
        send(res, 404, 'application/json', JSON.stringify({ error: (err as Error).message }));
      }
      return;
    }
    const interaction = INTERACTION_ROUTE.exec(url.pathname);
    if (interaction?.[1]) {
      await interactionRoute(req, res, interaction[1], interaction[2]);
      return;
    }
    if (url.pathname === '/token' && refusesBasic(req)) {
      // Like providers that take only the form (post) method and mis-read Basic credentials.
      res.writeHead(401, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        'www-authenticate':
          'Basic realm="stand-in", error="invalid_client", error_description="client authentication failed (Basic is not accepted for this client)"',
      });
      res.end(
        JSON.stringify({
          error: 'invalid_client',
          error_description: 'client authentication failed (Basic is not accepted for this client)',
        }),
      );
      return;
    }
    if (url.pathname === '/me' && options.userinfoSubjectMismatch) rewriteUserinfoSubject(res);
    if (url.pathname === AUTHORIZATION_PATH) {
      requests.push({
        at: Date.now(),
        method: req.method ?? 'GET',
        path: url.pathname,
        params: Object.fromEntries(url.searchParams),
      });
    }
    oidcCallback(req, res);
  };

  /** oidc-provider accepts Basic and post alike; a client registered for post is held to post here. */
  const postOnlyClients = new Set(
    options.clients
      .filter((c) => c.token_endpoint_auth_method === 'client_secret_post')
      .map((c) => c.client_id),
  );
  function refusesBasic(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    if (!header?.toLowerCase().startsWith('basic ')) return false;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const id = decodeURIComponent(decoded.slice(0, Math.max(0, decoded.indexOf(':'))).replace(/\+/g, ' '));
    return postOnlyClients.has(id);
  }

  /**
   * oidc-provider always answers UserInfo with the account's own `sub`; a provider that answers for
   * someone else is imitated by rewriting its JSON on the way out.
   */
  function rewriteUserinfoSubject(res: ServerResponse): void {
    const end = res.end.bind(res);
    const setHeader = res.setHeader.bind(res);
    res.setHeader = (name: string, value: number | string | readonly string[]) =>
      name.toLowerCase() === 'content-length' ? res : setHeader(name, value);
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) {
        try {
          const body = JSON.parse(chunk.toString()) as { sub?: string };
          if (typeof body.sub === 'string') chunk = JSON.stringify({ ...body, sub: `other-${body.sub}` });
        } catch {
          // not JSON (an error page): passed on as it is
        }
      }
      return (end as (...args: unknown[]) => ServerResponse)(chunk, ...rest);
    }) as typeof res.end;
  }

  const idp: StandinIdp = {
    issuer,
    url: issuer,
    profile,
    tenantId,
    requests,
    setUserDisabled: (email, disabled) => directory.setDisabled(email, disabled),
    accountIdOf: (email) => {
      const account = directory.byEmail(email);
      if (!account) throw new Error(`stand-in IdP: no user ${email}`);
      return account.accountId;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
  return idp;
}
