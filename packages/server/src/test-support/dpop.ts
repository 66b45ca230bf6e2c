import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** A DPoP key for tests that need to send proofs a client library would not (stale, reused, wrong key). */
export interface ProofKey {
  publicJwk: JWK;
  thumbprint: string;
  /** A DPoP proof (RFC 9449 §4.2) for `htm` `htu`, with `ath` when an access token is given. */
  proof(
    htm: string,
    htu: string,
    options?: { accessToken?: string; nonce?: string; iat?: number; jti?: string },
  ): Promise<string>;
}

export async function createProofKey(): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const publicJwk = await exportJWK(publicKey);
  return {
    publicJwk,
    thumbprint: await calculateJwkThumbprint(publicJwk, 'sha256'),
    proof(htm, htu, options = {}) {
      return new SignJWT({
        htm,
        htu,
        ...(options.nonce ? { nonce: options.nonce } : {}),
        ...(options.accessToken
          ? { ath: createHash('sha256').update(options.accessToken).digest('base64url') }
          : {}),
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk })
        .setIssuedAt(options.iat ?? Math.floor(Date.now() / 1000))
        .setJti(options.jti ?? randomUUID())
        .sign(privateKey);
    },
  };
}
