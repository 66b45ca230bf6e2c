import { randomBytes } from 'node:crypto';
import { StoreUnavailableError } from '../errors.js';
import type { TokenStore } from './token-store.js';

export interface KeychainStoreOptions {
  /** The keychain "service" name the entries are filed under. Default `latchkey`. */
  service?: string;
  /**
   * Longest value, in characters, kept in one keychain entry; longer values are split into chunks.
   * Default: 1,000 on Windows, whose Credential Manager refuses secrets over 2,560 bytes (keyring
   * stores them as UTF-16, so 1,280 characters at most) — a refresh token plus an ID token does not
   * fit; 16,000 elsewhere (macOS Keychain and the Secret Service take far more), so a session is one
   * entry and a silent sign-in costs three keychain calls instead of nine.
   */
  chunkSize?: number;
}

/** The part of @napi-rs/keyring's `AsyncEntry` the store uses. */
interface KeyringEntry {
  getPassword(): Promise<string | undefined | null>;
  setPassword(password: string): Promise<void>;
  deleteCredential(): Promise<boolean>;
}
type EntryFactory = (service: string, account: string) => KeyringEntry;

const SINGLE = 'lk1:v:';
const CHUNKED = 'lk1:c:';
const NO_KEYCHAIN_HINT =
  'No OS keychain is available (on Linux: no Secret Service such as gnome-keyring or KWallet is running, or it is locked). ' +
  'Use the encrypted file store instead (createFileStore, or `latchkey-desktop --store file`).';

let factory: Promise<EntryFactory> | undefined;
function loadKeyring(): Promise<EntryFactory> {
  factory ??= import('@napi-rs/keyring').then(
    (keyring) => (service: string, account: string) => new keyring.AsyncEntry(service, account),
    (error: unknown) => {
      factory = undefined;
      throw new StoreUnavailableError(
        `@napi-rs/keyring is not installed or not built for this platform. ${NO_KEYCHAIN_HINT}`,
        {
          cause: error,
        },
      );
    },
  );
  return factory;
}

function unavailable(error: unknown): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  return new StoreUnavailableError(`${NO_KEYCHAIN_HINT} (${firstLine(error)})`, { cause: error });
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** Characters per keychain entry on `platform` (see `KeychainStoreOptions.chunkSize`). */
export function defaultChunkSize(platform: NodeJS.Platform = process.platform): number {
  return platform === 'win32' ? 1000 : 16_000;
}

/**
 * The OS keychain through @napi-rs/keyring: macOS Keychain, Windows Credential Manager, Linux Secret
 * Service (gnome-keyring, KWallet). Values longer than `chunkSize` are split over several entries; the
 * head entry names the chunk generation last written completely, so a reader sees the old value or the
 * new one, never a mix. Every failure to reach the keychain is a `StoreUnavailableError`.
 */
export function createKeychainStore(options: KeychainStoreOptions = {}): TokenStore {
  const service = options.service ?? 'latchkey';
  const chunkSize = options.chunkSize ?? defaultChunkSize();
  // Making an entry costs ~5 ms of blocking work on Linux (it opens its own D-Bus connection), a
  // keychain call on it well under 1 ms: a silent sign-in reads and rewrites one entry, so entries are
  // kept. One that fails is dropped and the call is tried once more on a new one, in case the keychain
  // daemon was restarted under a long-running app.
  const entries = new Map<string, KeyringEntry>();
  const withEntry = async <T>(account: string, call: (entry: KeyringEntry) => Promise<T>): Promise<T> => {
    const create = await loadKeyring();
    const cached = entries.get(account);
    if (cached) {
      try {
        return await call(cached);
      } catch {
        entries.delete(account);
      }
    }
    const fresh = create(service, account);
    const result = await call(fresh);
    entries.set(account, fresh);
    return result;
  };
  const get = async (account: string) => {
    try {
      return (await withEntry(account, (entry) => entry.getPassword())) ?? undefined;
    } catch (error) {
      throw unavailable(error);
    }
  };
  const set = async (account: string, value: string) => {
    try {
      await withEntry(account, (entry) => entry.setPassword(value));
    } catch (error) {
      throw unavailable(error);
    }
  };
  const remove = async (account: string) => {
    try {
      await withEntry(account, (entry) => entry.deleteCredential());
    } catch (error) {
      if (/no (matching )?entry|not found/i.test(firstLine(error))) return;
      throw unavailable(error);
    } finally {
      // Chunk entries are named per generation and never come back once deleted.
      entries.delete(account);
    }
  };
  const chunkAccount = (key: string, generation: string, index: number) => `${key}#${generation}#${index}`;
  const parseHead = (head: string | undefined) => {
    if (!head?.startsWith(CHUNKED)) return undefined;
    const [generation, count] = head.slice(CHUNKED.length).split(':');
    return { generation: generation ?? '', count: Number(count) };
  };
  const deleteChunks = async (key: string, head: string | undefined) => {
    const chunks = parseHead(head);
    if (!chunks) return;
    for (let index = 0; index < chunks.count; index++)
      await remove(chunkAccount(key, chunks.generation, index));
  };

  // Without a Secret Service, keyring's reads on Linux answer "no entry" instead of failing: a miss is
  // only believed once a write has worked in this process (checked on the first miss, not on the hot path).
  let verified: Promise<void> | undefined;
  const verifyWritable = () => {
    verified ??= (async () => {
      const probe = `latchkey-probe-${randomBytes(4).toString('hex')}`;
      await set(probe, 'probe');
      await remove(probe);
    })().catch((error: unknown) => {
      verified = undefined;
      throw error;
    });
    return verified;
  };

  return {
    kind: 'keychain',
    async read(key) {
      // A writer may delete the chunks of the generation we are reading: read the head again and retry.
      for (let attempt = 0; attempt < 3; attempt++) {
        const head = await get(key);
        if (head === undefined) {
          await verifyWritable();
          return undefined;
        }
        if (head.startsWith(SINGLE)) return head.slice(SINGLE.length);
        const chunks = parseHead(head);
        if (!chunks) return head;
        const parts: string[] = [];
        for (let index = 0; index < chunks.count; index++) {
          const part = await get(chunkAccount(key, chunks.generation, index));
          if (part === undefined) break;
          parts.push(part);
        }
        if (parts.length === chunks.count) return parts.join('');
      }
      throw new StoreUnavailableError('The keychain entry changed while it was being read');
    },
    async write(key, value) {
      const previous = await get(key);
      if (value.length + SINGLE.length <= chunkSize) {
        await set(key, SINGLE + value);
      } else {
        const generation = randomBytes(6).toString('hex');
        const count = Math.ceil(value.length / chunkSize);
        for (let index = 0; index < count; index++) {
          await set(
            chunkAccount(key, generation, index),
            value.slice(index * chunkSize, (index + 1) * chunkSize),
          );
        }
        await set(key, `${CHUNKED}${generation}:${count}`);
      }
      await deleteChunks(key, previous);
    },
    async delete(key) {
      const head = await get(key);
      if (head === undefined) return;
      await remove(key);
      await deleteChunks(key, head);
    },
    /** Writes and deletes a probe entry (once per store): reads alone do not tell, see above. */
    check: () => verifyWritable(),
  };
}

/**
 * Tells whether the OS keychain answers, by writing, reading and deleting a probe entry. Use it to
 * choose a store at start, or to explain to the user why tokens cannot be kept.
 */
export async function isKeychainAvailable(service = 'latchkey'): Promise<boolean> {
  const store = createKeychainStore({ service });
  const key = `probe-${randomBytes(4).toString('hex')}`;
  try {
    await store.write(key, 'probe');
    const value = await store.read(key);
    await store.delete(key);
    return value === 'probe';
  } catch {
    return false;
  }
}
