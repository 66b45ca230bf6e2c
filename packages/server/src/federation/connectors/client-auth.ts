import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, importPKCS8, type JWK } from 'jose';
import type * as client from 'openid-client';
import { loadOpenId } from './openid.js';

/** The client authentication methods Latchkey offers at an upstream's token endpoint (OIDC Core §9). */
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

export const TOKEN_ENDPOINT_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
];

/** A private key for `private_key_jwt`: PKCS#8 PEM (RSA, EC P-256/P-384, Ed25519). */
export interface UpstreamClientKey {
  pem: string;
  /** The `kid` the provider has registered; default the key's RFC 7638 thumbprint. */
  kid?: string | undefined;
}

interface ClientAuthInput {
  connectionId: string;
  method?: TokenEndpointAuthMethod | undefined;
  clientSecret?: string | undefined;
  privateKey?: UpstreamClientKey | undefined;
}

/** The JWS algorithm a key signs with; RS256 for RSA (the only one every provider accepts). */
function algorithmOf(key: KeyObject): string {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') return 'RS256';
  if (type === 'ed25519') return 'EdDSA';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
  }
  throw new Error(`unsupported private key type ${type ?? 'unknown'} for private_key_jwt`);
}

/**
 * The public half of a `private_key_jwt` key as a JWK with its `kid` and `alg`: what the provider's
 * administrator registers (the console and the docs show it).
 */
export async function publicJwkOf(key: UpstreamClientKey): Promise<JWK> {
  const privateKey = createPrivateKey(key.pem);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  const kid = key.kid ?? (await calculateJwkThumbprint(jwk));
  return { ...jwk, kid, alg: algorithmOf(privateKey), use: 'sig' };
}

/** Checks a key at build time so a bad key fails when the connection is loaded, naming the connection. */
export function checkClientKey(connectionId: string, key: UpstreamClientKey): void {
  try {
    algorithmOf(createPrivateKey(key.pem));
  } catch (err) {
    throw new Error(`connection ${connectionId}: private_key: ${(err as Error).message}`);
  }
}

/**
 * Which method to use when the connection does not say. OIDC Discovery §3: an absent
 * `token_endpoint_auth_methods_supported` means `client_secret_basic`. Basic first (the OAuth default),
 * then post — a provider that mis-decodes form-encoded Basic credentials (RFC 6749 §2.3.1: a client id
 * with `-` arriving as `%2D`) lists only `client_secret_post` — and a key only when there is one.
 */
export function pickMethod(
  supported: readonly string[] | undefined,
  have: { secret: boolean; key: boolean },
): TokenEndpointAuthMethod | 'none' {
  const offered = supported && supported.length > 0 ? supported : ['client_secret_basic'];
  if (have.key && (offered.includes('private_key_jwt') || !have.secret)) return 'private_key_jwt';
  if (have.secret) {
    if (offered.includes('client_secret_basic')) return 'client_secret_basic';
    if (offered.includes('client_secret_post')) return 'client_secret_post';
    return 'client_secret_basic';
  }
  return 'none';
}

/**
 * openid-client's client authentication for a connection, decided at each token request from the
 * provider's discovered metadata when the connection does not name a method. openid-client does the
 * work (Basic header, form fields, the signed client assertion with `aud` = issuer, `jti`, `exp`).
 */
export function chooseClientAuth(input: ClientAuthInput): client.ClientAuth {
  if (input.method === 'private_key_jwt' && !input.privateKey) {
    throw new Error(
      `connection ${input.connectionId}: token_endpoint_auth_method private_key_jwt needs private_key`,
    );
  }
  if (
    (input.method === 'client_secret_basic' || input.method === 'client_secret_post') &&
    !input.clientSecret
  ) {
    throw new Error(
      `connection ${input.connectionId}: token_endpoint_auth_method ${input.method} needs client_secret`,
    );
  }
  if (input.privateKey) checkClientKey(input.connectionId, input.privateKey);

  let keyAuth: Promise<client.ClientAuth> | undefined;
  const privateKeyJwt = (): Promise<client.ClientAuth> => {
    keyAuth ??= (async () => {
      const key = input.privateKey as UpstreamClientKey;
      const alg = algorithmOf(createPrivateKey(key.pem));
      const jwk = await publicJwkOf(key);
      const cryptoKey = await importPKCS8(key.pem, alg);
      return (await loadOpenId()).PrivateKeyJwt({ key: cryptoKey, kid: jwk.kid });
    })();
    return keyAuth;
  };
  const secret = input.clientSecret;
  return async (as, metadata, body, headers) => {
    // Called by openid-client itself, so it is loaded by now (openid.ts).
    const openid = await loadOpenId();
    const method =
      input.method ??
      pickMethod(as.token_endpoint_auth_methods_supported, { secret: !!secret, key: !!input.privateKey });
    switch (method) {
      case 'client_secret_basic':
        return openid.ClientSecretBasic(secret)(as, metadata, body, headers);
      case 'client_secret_post':
        return openid.ClientSecretPost(secret)(as, metadata, body, headers);
      case 'private_key_jwt':
        return (await privateKeyJwt())(as, metadata, body, headers);
      default:
        return openid.None()(as, metadata, body, headers);
    }
  };
}
