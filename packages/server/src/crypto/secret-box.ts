import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** Thrown when a value cannot be decrypted: a wrong operator secret or tampered data. */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
  readonly code = 'DECRYPTION_FAILED';
}

const VERSION = 'v1';

/**
 * Encryption at rest for secrets (TOTP secrets, upstream client secrets, signing keys): AES-256-GCM
 * under a key derived with HKDF-SHA256 from the operator's secret. Associated data binds a value to
 * where it is stored (e.g. `credentials:<id>`), so a ciphertext copied to another row fails to open.
 * Format: `v1.<iv>.<ciphertext+tag>` (base64url).
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static fromSecret(secret: string): SecretBox {
    return new SecretBox(
      Buffer.from(hkdfSync('sha256', secret, 'latchkey-secret-box', 'aes-256-gcm v1', 32)),
    );
  }

  encrypt(plaintext: string, associatedData = ''): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associatedData));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  decrypt(sealed: string, associatedData = ''): string {
    const [version, ivText, bodyText] = sealed.split('.');
    if (version !== VERSION || !ivText || !bodyText)
      throw new DecryptionError('unrecognized encrypted value');
    const iv = Buffer.from(ivText, 'base64url');
    const body = Buffer.from(bodyText, 'base64url');
    if (body.length < 16) throw new DecryptionError('encrypted value is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAAD(Buffer.from(associatedData));
      decipher.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString(
        'utf8',
      );
    } catch (cause) {
      throw new DecryptionError('encrypted value does not open with this key', { cause });
    }
  }
}
