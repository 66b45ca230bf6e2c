import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ServerError } from '../errors/server-error.js';

/**
 * Thrown when a value cannot be opened: a different operator secret, other associated data (the value
 * was copied from another row), a truncated or tampered value, or an unknown format version.
 */
export class DecryptionError extends ServerError {
  override readonly name = 'DecryptionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('decryption_failed', message, options);
  }
}

const VERSION = 'v1';
const IV_BYTES = 12; // the GCM nonce size NIST SP 800-38D recommends
const TAG_BYTES = 16;

/**
 * Encryption at rest for secrets (TOTP secrets, upstream client secrets, client secrets, signing keys,
 * upstream refresh tokens): AES-256-GCM under a key derived with HKDF-SHA256 (RFC 5869) from the
 * operator secret (`LATCHKEY_SECRET` or its key file). A fresh random IV per value.
 *
 * Associated data binds a value to where it is stored (e.g. `credentials:<id>`): a ciphertext copied
 * into another row does not open there. Format: `v1.<iv>.<ciphertext+tag>` (base64url); the version
 * leaves room for another algorithm or key later without guessing what a stored value is.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** Derives the encryption key from the operator secret (a string or a key file's bytes). */
  static fromSecret(secret: string | Uint8Array): SecretBox {
    if (secret.length === 0) throw new TypeError('the operator secret is empty');
    return new SecretBox(
      Buffer.from(hkdfSync('sha256', secret, 'latchkey-secret-box', 'aes-256-gcm v1', 32)),
    );
  }

  encrypt(plaintext: string, associatedData = ''): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /** Opens a value sealed by `encrypt` with the same associated data; throws DecryptionError. */
  decrypt(sealed: string, associatedData = ''): string {
    const parts = sealed.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION)
      throw new DecryptionError('not a value encrypted by this version of Latchkey');
    const iv = Buffer.from(parts[1] as string, 'base64url');
    const body = Buffer.from(parts[2] as string, 'base64url');
    if (iv.length !== IV_BYTES || body.length < TAG_BYTES)
      throw new DecryptionError('encrypted value is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(body.subarray(0, body.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch (cause) {
      throw new DecryptionError(
        'encrypted value does not open: wrong operator secret, or the value was altered or moved',
        { cause },
      );
    }
  }
}
