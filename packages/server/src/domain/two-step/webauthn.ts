import type {
  AuthenticationResponseJSON,
  AuthenticatorTransport,
  CredentialDeviceType,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { ServerError } from '../../errors/server-error.js';

type Library = typeof import('@simplewebauthn/server');

// The library (and the ASN.1 and CBOR code under it) is imported by each ceremony, not at start: it
// takes about 12 MB of a server's resident memory, which a deployment without passkey sign-ins would
// carry for nothing. Node.js keeps a module once loaded, so later imports only look it up.

/*
 * Passkeys (WebAuthn Level 3) for two uses:
 * - the second step after a password: the user is known, `allowCredentials` lists their passkeys,
 *   user verification is "preferred" (the password was the "something you know");
 * - sign-in with a discoverable credential: no email typed, `allowCredentials` is empty so the
 *   page reveals nothing about which accounts have passkeys; the authenticator returns the user
 *   handle, and user verification is "required" because the passkey is then both factors.
 * Attestation is not requested ("none"): we do not restrict authenticator models, and asking
 * for attestation makes browsers show an extra privacy prompt.
 * @see https://www.w3.org/TR/webauthn-3/
 */

export type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
};

/** What to keep for a registered passkey (the `credentials` row: `lookup` = credentialId, `data` = the rest). */
export interface StoredPasskey {
  /** Credential ID, base64url. Unique across all users. */
  credentialId: string;
  /** COSE public key, base64url. */
  publicKey: string;
  /** Signature counter last seen (0 for authenticators that do not count, e.g. most synced passkeys). */
  counter: number;
  /** Transports reported at registration, handed back in `allowCredentials` as a hint to the browser. */
  transports: AuthenticatorTransport[];
  /** `multiDevice` when the credential is backup eligible (may be synced), otherwise `singleDevice`. */
  deviceType: CredentialDeviceType;
  /** Whether the credential was backed up (synced) when last seen. */
  backedUp: boolean;
  /** Authenticator model identifier; all zeros under "none" attestation from many authenticators. */
  aaguid: string;
}

/** A reference to a passkey in `excludeCredentials` / `allowCredentials`. */
export type PasskeyDescriptor = Pick<StoredPasskey, 'credentialId'> &
  Partial<Pick<StoredPasskey, 'transports'>>;

export type WebAuthnErrorCode = 'webauthn_registration_failed' | 'webauthn_invalid_user_id';

export class WebAuthnError extends ServerError {
  override readonly name = 'WebAuthnError';
  declare readonly code: WebAuthnErrorCode;
  constructor(code: WebAuthnErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/**
 * WebAuthn L3 recommends 300 000 ms as the default timeout; a generous timeout also matters for
 * people who need more time (WCAG 2.2.1). The challenge's own lifetime is the caller's sign-in state.
 */
const TIMEOUT_MS = 300_000;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The user handle is the user's opaque id, as UTF-8 bytes. WebAuthn §5.4.3: at most 64 bytes, and
 * it must not contain personal data such as the email (authenticators may show or sync it).
 */
function userHandleBytes(userId: string): Uint8Array<ArrayBuffer> {
  const bytes = utf8.encode(userId);
  if (bytes.length === 0 || bytes.length > 64) {
    throw new WebAuthnError('webauthn_invalid_user_id', 'A WebAuthn user handle must be 1 to 64 bytes');
  }
  return bytes as Uint8Array<ArrayBuffer>;
}

const toDescriptor = (p: PasskeyDescriptor) => ({
  id: p.credentialId,
  ...(p.transports && p.transports.length > 0 ? { transports: p.transports } : {}),
});

export interface RegistrationOptionsInput {
  /** The RP ID: the issuer's host name (no scheme, no port). */
  rpId: string;
  /** Shown by the browser and authenticator, e.g. the organization or "Latchkey". */
  rpName: string;
  user: {
    /** The opaque user id (becomes the user handle); never the email. */
    id: string;
    /** Shown as the account name in the passkey picker. */
    email: string;
    /** Shown as display name; defaults to the email. */
    name?: string | null;
  };
  /** The user's existing passkeys, so the same authenticator is not registered twice. */
  excludeCredentials?: readonly PasskeyDescriptor[];
  /**
   * `required` (default) makes a discoverable credential — a passkey usable for sign-in without
   * an email. `preferred` also admits older security keys that can only serve as a second step.
   */
  residentKey?: 'required' | 'preferred';
}

/**
 * Options for `navigator.credentials.create()`. Keep `options.challenge` in the sign-in state and
 * pass it to {@link verifyRegistration}.
 */
export async function registrationOptions(
  input: RegistrationOptionsInput,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const { generateRegistrationOptions } = await import('@simplewebauthn/server');
  return generateRegistrationOptions({
    rpID: input.rpId,
    rpName: input.rpName,
    userID: userHandleBytes(input.user.id),
    userName: input.user.email,
    userDisplayName: input.user.name || input.user.email,
    attestationType: 'none',
    excludeCredentials: (input.excludeCredentials ?? []).map(toDescriptor),
    authenticatorSelection: { residentKey: input.residentKey ?? 'required', userVerification: 'preferred' },
    timeout: TIMEOUT_MS,
  });
}

export interface VerifyRegistrationInput {
  response: RegistrationResponseJSON;
  expectedChallenge: string;
  /** The issuer's origin, e.g. `https://sso.example.com`. */
  expectedOrigin: string | string[];
  rpId: string;
}

/**
 * Checks the browser's answer to {@link registrationOptions} and returns what to store.
 * @throws WebAuthnError `webauthn_registration_failed` (with the library's reason as `cause`).
 */
export async function verifyRegistration(input: VerifyRegistrationInput): Promise<StoredPasskey> {
  const { verifyRegistrationResponse } = await import('@simplewebauthn/server');
  let result: Awaited<ReturnType<Library['verifyRegistrationResponse']>>;
  try {
    result = await verifyRegistrationResponse({
      response: input.response,
      expectedChallenge: input.expectedChallenge,
      expectedOrigin: input.expectedOrigin,
      expectedRPID: input.rpId,
      // Asked as "preferred": a security key without a PIN may still register; sign-in with a
      // discoverable credential demands verification at authentication time instead.
      requireUserVerification: false,
    });
  } catch (cause) {
    throw new WebAuthnError('webauthn_registration_failed', 'The passkey could not be registered', { cause });
  }
  if (!result.verified)
    throw new WebAuthnError('webauthn_registration_failed', 'The passkey could not be registered');
  const { credential, credentialDeviceType, credentialBackedUp, aaguid } = result.registrationInfo;
  return {
    credentialId: credential.id,
    publicKey: Buffer.from(credential.publicKey).toString('base64url'),
    counter: credential.counter,
    transports: (input.response.response.transports ?? []) as AuthenticatorTransport[],
    deviceType: credentialDeviceType,
    backedUp: credentialBackedUp,
    aaguid,
  };
}

export interface AuthenticationOptionsInput {
  rpId: string;
  /**
   * The user's passkeys when the user is already known (second step). Empty or absent: sign-in
   * with a discoverable credential, where user verification is required.
   */
  allowCredentials?: readonly PasskeyDescriptor[];
}

/** Options for `navigator.credentials.get()`. Keep `options.challenge` for {@link verifyAuthentication}. */
export async function authenticationOptions(
  input: AuthenticationOptionsInput,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { generateAuthenticationOptions } = await import('@simplewebauthn/server');
  const allow = input.allowCredentials ?? [];
  const discoverable = allow.length === 0;
  return generateAuthenticationOptions({
    rpID: input.rpId,
    ...(discoverable ? {} : { allowCredentials: allow.map(toDescriptor) }),
    userVerification: discoverable ? 'required' : 'preferred',
    timeout: TIMEOUT_MS,
  });
}

/**
 * The credential ID and user handle of an assertion, to find the stored passkey (by credential
 * ID) before verifying. `userId` is the decoded user handle, present for discoverable credentials.
 */
export function readAssertionIds(response: AuthenticationResponseJSON): {
  credentialId: string;
  userId: string | null;
} {
  const handle = response.response.userHandle;
  let userId: string | null = null;
  if (handle) {
    try {
      userId = fromUtf8.decode(Buffer.from(handle, 'base64url'));
    } catch {
      userId = null; // not one of ours: lookup will fail
    }
  }
  return { credentialId: response.id, userId };
}

export interface VerifyAuthenticationInput {
  response: AuthenticationResponseJSON;
  expectedChallenge: string;
  expectedOrigin: string | string[];
  rpId: string;
  /** The stored passkey found by the response's credential ID. */
  passkey: StoredPasskey;
  /** Owner of `passkey`; when the response carries a user handle it must match (WebAuthn §7.2 step 6). */
  userId?: string;
  /**
   * Require the UV flag. Default `true`, right for a discoverable sign-in where the passkey is
   * the only credential; pass `false` for the second step after a password.
   */
  requireUserVerification?: boolean;
}

export type VerifyAuthenticationResult =
  | {
      ok: true;
      /** Store it as the passkey's new `counter`. */
      newCounter: number;
      userVerified: boolean;
      /** Current backup state; may change after registration (a credential gets synced later): store it too. */
      deviceType: CredentialDeviceType;
      backedUp: boolean;
    }
  | { ok: false; reason: string };

/**
 * Verifies an assertion. Any failure — wrong challenge, origin or RP, bad signature, a counter
 * that did not grow (a cloned authenticator), missing user verification — is `{ ok: false }`
 * with a reason for the audit log (not for the user).
 */
export async function verifyAuthentication(
  input: VerifyAuthenticationInput,
): Promise<VerifyAuthenticationResult> {
  const { response, passkey } = input;
  // The library verifies against the credential it is given; it does not check that the response
  // names that credential.
  if (response.id !== passkey.credentialId || response.rawId !== passkey.credentialId) {
    return { ok: false, reason: 'The response is for another credential' };
  }
  if (input.userId !== undefined) {
    const { userId } = readAssertionIds(response);
    if (response.response.userHandle && userId !== input.userId) {
      return { ok: false, reason: 'The user handle does not match the credential owner' };
    }
  }
  const { verifyAuthenticationResponse } = await import('@simplewebauthn/server');
  try {
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: input.expectedChallenge,
      expectedOrigin: input.expectedOrigin,
      expectedRPID: input.rpId,
      credential: {
        id: passkey.credentialId,
        publicKey: Buffer.from(passkey.publicKey, 'base64url') as Uint8Array<ArrayBuffer>,
        counter: passkey.counter,
        transports: passkey.transports,
      },
      requireUserVerification: input.requireUserVerification ?? true,
    });
    if (!result.verified) return { ok: false, reason: 'The signature is not valid' };
    const info = result.authenticationInfo;
    return {
      ok: true,
      newCounter: info.newCounter,
      userVerified: info.userVerified,
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
    };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * The RFC 8176 `amr` value for a passkey:
 * - `hwk` ("proof-of-possession of a hardware-secured key") for a single-device credential: its
 *   backup-eligible flag is off, so the private key never leaves the authenticator (a security
 *   key, a TPM or secure enclave bound to one device);
 * - `swk` ("software-secured key") for a multi-device credential: backup eligible, so the key can
 *   be copied into a sync fabric (iCloud Keychain, Google Password Manager, a password manager)
 *   and used from any device signed in to it. What matters is whether it *can* be synced, not
 *   whether it has been yet, so a backup-eligible credential is `swk` even before its first backup.
 * Without attestation these flags are the authenticator's own claim; we do not verify the model.
 * The ID token also gets `mfa` when a passkey with user verification (or a password plus a
 * passkey) was used; that is the caller's composition.
 * @see https://www.rfc-editor.org/rfc/rfc8176#section-2
 * @see https://www.w3.org/TR/webauthn-3/#sctn-credential-backup
 */
export function passkeyAmr(passkey: Pick<StoredPasskey, 'deviceType' | 'backedUp'>): 'hwk' | 'swk' {
  return passkey.deviceType === 'singleDevice' && !passkey.backedUp ? 'hwk' : 'swk';
}
