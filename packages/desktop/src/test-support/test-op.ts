import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Adapter, type AdapterPayload, type Configuration, errors } from 'oidc-provider';

/**
 * A test OpenID Provider: oidc-provider 9 on loopback with one public native client, for the SDK's and
 * the CLI's tests. It stands in for the Latchkey server where only standard behaviour matters:
 * discovery, authorization code + PKCE S256 (required), RFC 9207 `iss`, refresh-token rotation with a
 * conditional consume (of two uses of one token exactly one wins) and an optional grace window,
 * revocation, device flow, RP-initiated logout, resource indicators with JWT access tokens.
 *
 * The browser part is a test-only interaction route: `/interaction/:uid` signs the fixed user in and
 * approves at once (or denies, with `op.mode = 'deny'`). Tests drive it with `driveAuthorization()` or
 * a real browser.
 */
export interface TestOpOptions {
  /** Seconds during which a rotated refresh token may be presented once more. Default 0 (off). */
  refreshGraceSeconds?: number;
  /** Access token lifetime in seconds. Default 3600. */
  accessTokenTtl?: number;
  /** `interval` added to device authorization responses (RFC 8628 §3.2). Default 1. */
  deviceInterval?: number;
  /** Device code lifetime in seconds. Default 600. */
  deviceCodeTtl?: number;
  /** Port to listen on; default: OS-picked. */
  port?: number;
  /** RFC 9449: every DPoP proof must carry a nonce this OP issued. Default false. */
  dpopRequireNonce?: boolean;
  /** RFC 9449 §5.2: the client's token requests need a DPoP proof (Latchkey's `dpop: required`). Default false. */
  dpopRequired?: boolean;
}

export interface TestUser {
  sub: string;
  email: string;
  name: string;
}

export const TEST_CLIENT_ID = 'test-desktop';
export const TEST_SCHEME_REDIRECT = 'com.example.app:/oauth2redirect';
export const TEST_API = 'https://api.example.test';
export const TEST_USER: TestUser = { sub: 'user-ada', email: 'ada@example.test', name: 'Ada Lovelace' };

export interface TestOp {
  readonly issuer: string;
  readonly provider: Provider;
  /** What the interaction route does next: approve (default) or deny with `access_denied`. */
  mode: 'approve' | 'deny';
  /** The user the interaction route signs in. */
  user: TestUser;
  /** Authorization request parameters seen by the interaction route, newest last. */
  readonly authorizationRequests: Record<string, unknown>[];
  /** Count of token endpoint requests per grant type. */
  readonly tokenRequests: Record<string, number>;
  /** Answer the next N device-code polls with `slow_down` (RFC 8628 §3.5). */
  slowDownPolls: number;
  /** Approve (or deny) a device code as the user would on the verification page. */
  approveDeviceCode(userCode: string, decision?: 'approve' | 'deny'): Promise<void>;
  /** Revoke every grant of the user (what an admin's "revoke everything" does). */
  revokeUser(accountId?: string): Promise<void>;
  close(): Promise<void>;
}

type Stored = { payload: AdapterPayload; expiresAt?: number };

/**
 * An in-memory adapter like oidc-provider's own, except that `consume` is conditional, as the real
 * server's is: the second consumption of a token throws `invalid_grant` instead of silently winning
 * (the engine checks `consumed` before consuming, so without this two simultaneous refreshes with one
 * token would both succeed). A grace window lets one replay through, for a client that lost the response.
 */
function adapterFactory(graceSeconds: number) {
  const records = new Map<string, Stored>();
  const byGrant = new Map<string, Set<string>>();
  const byUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();
  const live = (key: string): AdapterPayload | undefined => {
    const stored = records.get(key);
    if (!stored) return undefined;
    if (stored.expiresAt !== undefined && stored.expiresAt < Date.now()) {
      records.delete(key);
      return undefined;
    }
    return stored.payload;
  };
  const revokeAccount = (accountId: string) => {
    for (const [key, stored] of records) {
      if (key.startsWith('Grant:') && stored.payload.accountId === accountId) {
        const grantId = key.slice('Grant:'.length);
        records.delete(key);
        for (const member of byGrant.get(grantId) ?? []) records.delete(member);
        byGrant.delete(grantId);
      }
    }
  };
  class TestAdapter implements Adapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      const key = this.key(id);
      records.set(key, {
        payload: { ...payload },
        ...(expiresIn ? { expiresAt: Date.now() + expiresIn * 1000 } : {}),
      });
      if (payload.grantId) {
        const members = byGrant.get(payload.grantId) ?? new Set<string>();
        members.add(key);
        byGrant.set(payload.grantId, members);
      }
      if (payload.uid) byUid.set(payload.uid, id);
      if (payload.userCode) byUserCode.set(payload.userCode, id);
    }
    async find(id: string) {
      const payload = live(this.key(id));
      if (!payload) return undefined;
      if (this.model === 'RefreshToken' && payload.consumed && withinGrace(payload)) {
        // Within the grace window a rotated token reads as unconsumed once more.
        const { consumed: _consumed, ...rest } = payload;
        return rest as AdapterPayload;
      }
      return { ...payload };
    }
    async findByUid(uid: string) {
      const id = byUid.get(uid);
      return id ? this.find(id) : undefined;
    }
    async findByUserCode(userCode: string) {
      const id = byUserCode.get(userCode);
      return id ? this.find(id) : undefined;
    }
    async consume(id: string) {
      const payload = live(this.key(id));
      if (!payload) throw new errors.InvalidGrant('token not found');
      if (payload.consumed) {
        if (this.model === 'RefreshToken' && withinGrace(payload)) {
          (payload as { graceUsed?: number }).graceUsed = Date.now();
          return;
        }
        throw new errors.InvalidGrant(`${this.model} already consumed`);
      }
      payload.consumed = Math.floor(Date.now() / 1000);
      (payload as { consumedAtMs?: number }).consumedAtMs = Date.now();
    }
    async destroy(id: string) {
      records.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const key of byGrant.get(grantId) ?? []) records.delete(key);
      byGrant.delete(grantId);
    }
  }
  return { Adapter: TestAdapter, revokeAccount };

  function withinGrace(payload: AdapterPayload): boolean {
    const extra = payload as { consumedAtMs?: number; graceUsed?: number };
    return (
      graceSeconds > 0 &&
      !extra.graceUsed &&
      extra.consumedAtMs !== undefined &&
      Date.now() - extra.consumedAtMs < graceSeconds * 1000
    );
  }
}

/** Starts the test OP on 127.0.0.1. */
export async function startTestOp(options: TestOpOptions = {}): Promise<TestOp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signingKey = {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    kid: 'test-es256',
    alg: 'ES256',
    use: 'sig',
  };
  const state = {
    mode: 'approve' as 'approve' | 'deny',
    user: TEST_USER,
    slowDownPolls: 0,
  };
  const storage = adapterFactory(options.refreshGraceSeconds ?? 0);
  const accounts = () => new Map([[state.user.sub, state.user]]);

  const configuration: Configuration = {
    adapter: storage.Adapter,
    clients: [
      {
        client_id: TEST_CLIENT_ID,
        client_name: 'Test Desktop',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback', TEST_SCHEME_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
        dpop_bound_access_tokens: options.dpopRequired ?? false,
      },
    ],
    clientDefaults: {
      id_token_signed_response_alg: 'ES256',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
    jwks: { keys: [signingKey as never] },
    cookies: { keys: ['test-op-cookie-key'] },
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    // The ID token carries email and name even though an access token is issued (the desktop app has
    // no other use for userinfo).
    conformIdTokenClaims: false,
    findAccount: async (_ctx, id) => {
      const user = accounts().get(id);
      if (!user) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: id, email: user.email, email_verified: true, name: user.name }),
      };
    },
    // Desktop refresh tokens outlive the browser session and are issued without prompt=consent.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    expiresWithSession: async () => false,
    rotateRefreshToken: true,
    ttl: {
      AccessToken: options.accessTokenTtl ?? 3600,
      AuthorizationCode: 60,
      DeviceCode: options.deviceCodeTtl ?? 600,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      dPoP: {
        enabled: true,
        nonceSecret: randomBytes(32),
        requireNonce: () => options.dpopRequireNonce ?? false,
      },
      revocation: { enabled: true },
      deviceFlow: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined as unknown as string,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource !== TEST_API) throw new errors.InvalidTarget();
          return {
            scope: 'calls messages',
            audience: TEST_API,
            accessTokenFormat: 'jwt',
            accessTokenTTL: options.accessTokenTtl ?? 3600,
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.proxy = false;

  const authorizationRequests: Record<string, unknown>[] = [];
  const tokenRequests: Record<string, number> = {};

  // Count grants, inject the device `interval` and simulated `slow_down` answers.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.method === 'POST') {
      const grantType = String(ctx.oidc?.params?.grant_type ?? 'unknown');
      tokenRequests[grantType] = (tokenRequests[grantType] ?? 0) + 1;
      const body = ctx.body as { error?: string } | undefined;
      // Only a poll that changed nothing (still pending) is turned into slow_down.
      if (
        grantType.endsWith('device_code') &&
        body?.error === 'authorization_pending' &&
        state.slowDownPolls > 0
      ) {
        state.slowDownPolls--;
        ctx.body = { error: 'slow_down', error_description: 'poll less often' };
      }
    }
    if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
      (ctx.body as Record<string, unknown>).interval = options.deviceInterval ?? 1;
    }
  });

  const finish = async (request: IncomingMessage, response: ServerResponse) => {
    const details = await provider.interactionDetails(request, response);
    authorizationRequests.push({ ...details.params });
    if (state.mode === 'deny') {
      await provider.interactionFinished(
        request,
        response,
        { error: 'access_denied', error_description: 'The test user said no' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (details.prompt.name === 'login') {
      await provider.interactionFinished(
        request,
        response,
        { login: { accountId: state.user.sub } },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const accountId = details.session?.accountId ?? state.user.sub;
    const clientId = String(details.params.client_id);
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId });
    if (!grant) throw new Error('grant vanished');
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
      grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(
      request,
      response,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
  };

  const callback = provider.callback();
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.url?.startsWith('/interaction/')) {
      finish(request, response).catch((error: Error) => {
        response.statusCode = 500;
        response.end(`interaction failed: ${error.message}`);
      });
      return;
    }
    callback(request, response);
  });

  const approveDeviceCode = async (userCode: string, decision: 'approve' | 'deny' = 'approve') => {
    const normalized = userCode.replace(/[^A-Za-z]/g, '').toUpperCase();
    const code = await provider.DeviceCode.findByUserCode(normalized, { ignoreExpiration: true });
    if (!code) throw new Error(`no device code ${userCode}`);
    if (decision === 'deny') {
      Object.assign(code, { error: 'access_denied', errorDescription: 'The test user said no' });
    } else {
      const scope = String((code.params as Record<string, unknown>).scope ?? 'openid');
      const grant = new provider.Grant({ accountId: state.user.sub, clientId: code.clientId });
      grant.addOIDCScope(scope);
      const resources = (code.params as Record<string, unknown>).resource;
      for (const resource of [resources].flat().filter((r): r is string => typeof r === 'string'))
        grant.addResourceScope(resource, 'calls messages');
      const grantId = await grant.save();
      Object.assign(code, {
        accountId: state.user.sub,
        grantId,
        scope,
        authTime: Math.floor(Date.now() / 1000),
      });
      if (resources) Object.assign(code, { resource: resources });
    }
    await code.save();
  };

  const op: TestOp = {
    issuer,
    provider,
    get mode() {
      return state.mode;
    },
    set mode(value) {
      state.mode = value;
    },
    get user() {
      return state.user;
    },
    set user(value) {
      state.user = value;
    },
    get slowDownPolls() {
      return state.slowDownPolls;
    },
    set slowDownPolls(value) {
      state.slowDownPolls = value;
    },
    authorizationRequests,
    tokenRequests,
    approveDeviceCode,
    async revokeUser(accountId = state.user.sub) {
      // Every grant of the user: what the real server's "revoke everything for this user" does.
      storage.revokeAccount(accountId);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return op;
}
