import { createCipheriv, createDecipheriv, createHash, randomBytes, scrypt } from 'node:crypto';
import { readFile, unlink } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { StoreUnavailableError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';
import type { TokenStore } from './token-store.js';

export interface FileStoreOptions {
  /** Directory of the store's files; created with mode 0700. */
  directory: string;
  /**
   * Secret the encryption key is derived from (scrypt). Without one, the key is derived from this
   * machine's id and the user's name: that only stops a copied file from being read elsewhere; the
   * real protection is the file's 0600 mode. Pass a secret (or set `LATCHKEY_FILE_STORE_KEY`) for more.
   */
  secret?: string;
  /** Called once with the warning about storing tokens in a file; default `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

const FORMAT = 'latchkey-file-store-v1';

interface Envelope {
  format: typeof FORMAT;
  salt: string;
  iv: string;
  tag: string;
  data: string;
}

async function machineSecret(): Promise<string> {
  let machineId = '';
  for (const path of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    machineId = (await readFile(path, 'utf8').catch(() => '')).trim();
    if (machineId) break;
  }
  return `${machineId || hostname()}\n${userInfo().username}`;
}

function deriveKey(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, 32, { N: 1 << 14, r: 8, p: 1 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/**
 * An encrypted file store, for machines without an OS keychain (servers, containers, minimal Linux
 * desktops). Opt-in only: it warns when created. One file per key, AES-256-GCM with the key name as
 * associated data (a file renamed to another key does not decrypt), written atomically with mode 0600.
 */
export function createFileStore(options: FileStoreOptions): TokenStore {
  const secretSource = options.secret ?? process.env.LATCHKEY_FILE_STORE_KEY;
  const warn =
    options.onWarning ?? ((message: string) => process.emitWarning(message, { code: 'LATCHKEY_FILE_STORE' }));
  warn(
    `Tokens are stored in encrypted files in ${options.directory} (mode 0600) instead of the OS keychain.` +
      (secretSource
        ? ''
        : ' Without LATCHKEY_FILE_STORE_KEY the encryption key is derived from this machine.'),
  );
  const keys = new Map<string, Promise<Buffer>>();
  const keyFor = (salt: Buffer) => {
    const id = salt.toString('base64');
    let key = keys.get(id);
    if (!key) {
      key = (async () => deriveKey(secretSource ?? (await machineSecret()), salt))();
      keys.set(id, key);
    }
    return key;
  };
  // Writes reuse the salt of the last file read (or one random salt per instance), so a process
  // derives the key once (scrypt is deliberately slow); every file records its salt.
  let writeSalt = randomBytes(16);
  const pathOf = (key: string) =>
    join(options.directory, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);

  return {
    kind: 'file',
    async read(key) {
      let text: string;
      try {
        text = await readFile(pathOf(key), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new StoreUnavailableError(`Cannot read the token file: ${(error as Error).message}`, {
          cause: error,
        });
      }
      try {
        const envelope = JSON.parse(text) as Envelope;
        if (envelope.format !== FORMAT) throw new Error(`unknown format ${String(envelope.format)}`);
        const salt = Buffer.from(envelope.salt, 'base64');
        const decipher = createDecipheriv(
          'aes-256-gcm',
          await keyFor(salt),
          Buffer.from(envelope.iv, 'base64'),
        );
        decipher.setAAD(Buffer.from(key));
        decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
        const plain = Buffer.concat([
          decipher.update(Buffer.from(envelope.data, 'base64')),
          decipher.final(),
        ]);
        writeSalt = salt;
        return plain.toString('utf8');
      } catch (error) {
        throw new StoreUnavailableError(
          `The token file for this account cannot be decrypted (wrong LATCHKEY_FILE_STORE_KEY, or another machine's file): ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    async write(key, value) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', await keyFor(writeSalt), iv);
      cipher.setAAD(Buffer.from(key));
      const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
      const envelope: Envelope = {
        format: FORMAT,
        salt: writeSalt.toString('base64'),
        iv: iv.toString('base64'),
        tag: cipher.getAuthTag().toString('base64'),
        data: data.toString('base64'),
      };
      await writeFileAtomic(pathOf(key), JSON.stringify(envelope), 0o600);
    },
    async delete(key) {
      await unlink(pathOf(key)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    },
    /** Writes and deletes a probe file in the directory (no key derivation: that is only CPU). */
    async check() {
      const probe = join(options.directory, `.probe-${randomBytes(6).toString('hex')}`);
      try {
        await writeFileAtomic(probe, 'probe', 0o600);
        await unlink(probe);
      } catch (error) {
        await unlink(probe).catch(() => {});
        throw new StoreUnavailableError(
          `Cannot write the token files in ${options.directory}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
  };
}
