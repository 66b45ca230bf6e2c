import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

/*
 * A software WebAuthn authenticator plus the browser's part of the ceremony, for unit tests:
 * ES256 keys from node:crypto, "none" attestation, CBOR encoded by the tiny encoder below.
 * It produces exactly what `navigator.credentials.create()/get()` + `toJSON()` give a page.
 * @see https://www.w3.org/TR/webauthn-3/#sctn-authenticator-data
 */

// --- CBOR (RFC 8949), only what WebAuthn needs -------------------------------------------------

export type CborValue =
  | number
  | string
  | Uint8Array
  | CborValue[]
  | Map<CborValue, CborValue>
  | { [key: string]: CborValue };

function cborHead(major: number, length: number): Uint8Array {
  if (length < 24) return Uint8Array.of((major << 5) | length);
  if (length < 0x100) return Uint8Array.of((major << 5) | 24, length);
  if (length < 0x10000) return Uint8Array.of((major << 5) | 25, length >> 8, length & 0xff);
  const out = new Uint8Array(5);
  out[0] = (major << 5) | 26;
  new DataView(out.buffer).setUint32(1, length);
  return out;
}

export function cborEncode(value: CborValue): Uint8Array {
  const parts: Uint8Array[] = [];
  const walk = (v: CborValue) => {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || Math.abs(v) > 0xffffffff)
        throw new TypeError('Only 32-bit integers are supported');
      parts.push(v >= 0 ? cborHead(0, v) : cborHead(1, -1 - v));
    } else if (typeof v === 'string') {
      const bytes = new TextEncoder().encode(v);
      parts.push(cborHead(3, bytes.length), bytes);
    } else if (v instanceof Uint8Array) {
      parts.push(cborHead(2, v.length), v);
    } else if (Array.isArray(v)) {
      parts.push(cborHead(4, v.length));
      for (const item of v) walk(item);
    } else {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      parts.push(cborHead(5, entries.length));
      for (const [key, item] of entries) {
        walk(key);
        walk(item);
      }
    }
  };
  walk(value);
  return Buffer.concat(parts);
}

// --- the authenticator ---------------------------------------------------------------------------

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string) => createHash('sha256').update(data).digest();

export interface SoftCredential {
  id: Uint8Array;
  rpId: string;
  /** base64url user handle, as given in the creation options. */
  userHandle: string;
  privateKey: KeyObject;
  counter: number;
}

export interface SoftAuthenticatorOptions {
  /** The origin the "browser" reports in clientDataJSON. */
  origin: string;
  /** Backup eligible (a synced passkey, `multiDevice`). Default false. */
  backupEligible?: boolean;
  /** Backed up (BS flag). Default: same as backupEligible. */
  backedUp?: boolean;
  /** Can verify the user (PIN/biometric). Default true. */
  userVerifying?: boolean;
  /** Increment the signature counter on each use (default), or always report 0 like most synced passkeys. */
  counter?: 'increment' | 'zero';
  /** 16-byte AAGUID; default all zeros. */
  aaguid?: Uint8Array;
  transports?: string[];
}

export class SoftAuthenticatorError extends Error {
  override readonly name: 'NotAllowedError' | 'InvalidStateError';
  constructor(name: 'NotAllowedError' | 'InvalidStateError', message: string) {
    super(message);
    this.name = name;
  }
}

export interface SoftAuthenticator {
  readonly credentials: SoftCredential[];
  register(
    options: PublicKeyCredentialCreationOptionsJSON,
    overrides?: { origin?: string },
  ): RegistrationResponseJSON;
  authenticate(
    options: PublicKeyCredentialRequestOptionsJSON,
    overrides?: { origin?: string; credentialId?: string; rpId?: string },
  ): AuthenticationResponseJSON;
}

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

export function createSoftAuthenticator(options: SoftAuthenticatorOptions): SoftAuthenticator {
  const backupEligible = options.backupEligible ?? false;
  const backedUp = options.backedUp ?? backupEligible;
  const userVerifying = options.userVerifying ?? true;
  const aaguid = options.aaguid ?? new Uint8Array(16);
  const transports = options.transports ?? ['internal', 'hybrid'];
  const credentials: SoftCredential[] = [];

  const flags = (uv: boolean, attested: boolean) =>
    FLAG_UP |
    (uv ? FLAG_UV : 0) |
    (backupEligible ? FLAG_BE : 0) |
    (backedUp ? FLAG_BS : 0) |
    (attested ? FLAG_AT : 0);

  const wantsUv = (requirement: string | undefined) => {
    if (requirement === 'required' && !userVerifying) {
      throw new SoftAuthenticatorError('NotAllowedError', 'User verification required but not available');
    }
    return userVerifying && requirement !== 'discouraged';
  };

  const counterBytes = (counter: number) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(counter);
    return out;
  };

  return {
    credentials,

    register(creation, overrides = {}) {
      const rpId = creation.rp.id;
      if (!rpId) throw new TypeError('rp.id is required');
      const excluded = new Set((creation.excludeCredentials ?? []).map((c) => c.id));
      if (credentials.some((c) => c.rpId === rpId && excluded.has(b64url(c.id)))) {
        throw new SoftAuthenticatorError(
          'InvalidStateError',
          'The authenticator already holds an excluded credential',
        );
      }
      if (!creation.pubKeyCredParams.some((p) => p.alg === -7)) {
        throw new SoftAuthenticatorError('NotAllowedError', 'ES256 not offered');
      }
      const uv = wantsUv(creation.authenticatorSelection?.userVerification);
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const id = randomBytes(32);
      const credential: SoftCredential = { id, rpId, userHandle: creation.user.id, privateKey, counter: 0 };
      credentials.push(credential);

      // COSE_Key (RFC 9053 §7.1.1): kty EC2, alg ES256, crv P-256, x, y.
      const coseKey = cborEncode(
        new Map<CborValue, CborValue>([
          [1, 2],
          [3, -7],
          [-1, 1],
          [-2, Buffer.from(jwk.x!, 'base64url')],
          [-3, Buffer.from(jwk.y!, 'base64url')],
        ]),
      );
      const idLength = Buffer.alloc(2);
      idLength.writeUInt16BE(id.length);
      const authData = Buffer.concat([
        sha256(rpId),
        Uint8Array.of(flags(uv, true)),
        counterBytes(0),
        aaguid,
        idLength,
        id,
        coseKey,
      ]);
      const attestationObject = cborEncode({ fmt: 'none', attStmt: {}, authData });
      const clientDataJSON = JSON.stringify({
        type: 'webauthn.create',
        challenge: creation.challenge,
        origin: overrides.origin ?? options.origin,
        crossOrigin: false,
      });
      return {
        id: b64url(id),
        rawId: b64url(id),
        type: 'public-key',
        authenticatorAttachment: transports.includes('internal') ? 'platform' : 'cross-platform',
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(clientDataJSON),
          attestationObject: b64url(attestationObject),
          authenticatorData: b64url(authData),
          transports,
          publicKeyAlgorithm: -7,
          publicKey: b64url(publicKey.export({ format: 'der', type: 'spki' })),
        },
      };
    },

    authenticate(request, overrides = {}) {
      const rpId = overrides.rpId ?? request.rpId;
      if (!rpId) throw new TypeError('rpId is required');
      const allowed = (request.allowCredentials ?? []).map((c) => c.id);
      const candidates = credentials.filter(
        (c) =>
          c.rpId === rpId &&
          (allowed.length === 0 || allowed.includes(b64url(c.id))) &&
          (overrides.credentialId === undefined || overrides.credentialId === b64url(c.id)),
      );
      const credential = candidates.at(-1);
      if (!credential) throw new SoftAuthenticatorError('NotAllowedError', 'No matching credential');
      const uv = wantsUv(request.userVerification);
      if (options.counter !== 'zero') credential.counter += 1;
      const authData = Buffer.concat([
        sha256(rpId),
        Uint8Array.of(flags(uv, false)),
        counterBytes(credential.counter),
      ]);
      const clientDataJSON = JSON.stringify({
        type: 'webauthn.get',
        challenge: request.challenge,
        origin: overrides.origin ?? options.origin,
        crossOrigin: false,
      });
      // ECDSA over authenticatorData ‖ SHA-256(clientDataJSON), DER-encoded (WebAuthn §6.3.3).
      const signature = sign(
        'sha256',
        Buffer.concat([authData, sha256(clientDataJSON)]),
        credential.privateKey,
      );
      return {
        id: b64url(credential.id),
        rawId: b64url(credential.id),
        type: 'public-key',
        authenticatorAttachment: transports.includes('internal') ? 'platform' : 'cross-platform',
        clientExtensionResults: {},
        response: {
          clientDataJSON: b64url(clientDataJSON),
          authenticatorData: b64url(authData),
          signature: b64url(signature),
          // Authenticators return the user handle for discoverable credentials (always, in practice).
          userHandle: credential.userHandle,
        },
      };
    },
  };
}
