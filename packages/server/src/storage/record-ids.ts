import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import type { Database } from './database.js';

/**
 * What `oidc_records` stores in place of bearer secrets, so that a copy of the database alone (a
 * backup, a stolen file) signs nobody in.
 *
 * A record of a model in `HASHED_MODELS` is stored under a keyed hash of the value the engine issued:
 * `h.` + base64url(HMAC-SHA256(key, "<model>:<value>")), the key derived from the operator secret
 * (`deriveKey(secret, 'latchkey/record-ids')`). Every lookup hashes what the client presents, so the
 * database is still one indexed primary-key read per lookup and the hot refresh path gains no round
 * trip (an HMAC costs about a microsecond). The stored payload carries no `jti` (the adapter restores
 * it from the value it was asked for). A device code's user code is hashed too (`user_code`).
 *
 * Hashed, because each one is a bearer secret that alone yields a session or tokens:
 * - RefreshToken, AccessToken, ClientCredentials, AuthorizationCode, DeviceCode (and its user code),
 *   BackchannelAuthenticationRequest, RegistrationAccessToken, InitialAccessToken: presented to an
 *   endpoint as they are;
 * - Session: its id is the browser's session cookie (`lk_session`), i.e. single sign-on as that person.
 * Kept plain, because none of them is accepted from a client as proof of anything:
 * - Grant: referenced by tokens (`grant_id`), never presented by a client;
 * - Interaction: its uid is a sign-in in progress (also the key of `sign_in_states` and in
 *   `upstream_requests`); finishing it needs the person's credentials. Its payload does name the
 *   browser session (`session.cookie`): stored hashed like the Session's id. It may name a device code
 *   (`deviceCode`): sealed, see below;
 * - Session `uid`, PushedAuthorizationRequest, ReplayDetection and the rest: lookup handles and
 *   replay markers, useless without the secrets above.
 *
 * Two values must come back, not only be recognized: the engine finds a device code by its user code
 * and then carries the device code's own value through the sign-in interaction, where it looks the code
 * up again. Those (the device code's `jti` and `userCode` in its payload, `deviceCode` in an
 * Interaction) are sealed: AES-256-GCM under a key derived from the same key, so the database alone
 * still does not yield them. Device codes live minutes.
 *
 * A Session found by its `uid` (not by its cookie) comes back with `jti` set to its stored id; a write
 * of an id that is already a stored one (`h.…`) goes to that record unchanged. A lookup never takes
 * a stored id as is (it hashes whatever it is given), so the hashes in a copied database are not
 * tokens either.
 */
export const HASHED_MODELS: ReadonlySet<string> = new Set([
  'RefreshToken',
  'AccessToken',
  'ClientCredentials',
  'AuthorizationCode',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'RegistrationAccessToken',
  'InitialAccessToken',
  'Session',
]);

const STORED = 'h.';
const SEALED = 's1.';

export interface RecordIds {
  /** The stored id for a value a client presented (always hashed for a hashed model). */
  lookup(model: string, value: string): string;
  /** The stored id for a write by the engine: a stored id (`h.…`) is kept as it is. */
  write(model: string, value: string): string;
  /** Whether `id` is a stored (hashed) id. */
  isStored(id: string): boolean;
  /** The stored form of a device flow user code. */
  userCode(value: string): string;
  seal(value: unknown): string;
  /** The sealed value, or undefined when `text` is not one (or does not open). */
  unseal<T>(text: unknown): T | undefined;
}

export function createRecordIds(key: Buffer): RecordIds {
  if (key.length < 32) throw new Error('the record-id key must be 32 bytes');
  const sealKey = Buffer.from(hkdfSync('sha256', key, 'latchkey', 'latchkey/record-ids/seal', 32));
  const hash = (text: string) => createHmac('sha256', key).update(text).digest('base64url');
  const lookup = (model: string, value: string) =>
    HASHED_MODELS.has(model) ? `${STORED}${hash(`${model}:${value}`)}` : value;
  return {
    lookup,
    write: (model, value) =>
      HASHED_MODELS.has(model) && value.startsWith(STORED) ? value : lookup(model, value),
    isStored: (id) => id.startsWith(STORED),
    userCode: (value) => `${STORED}${hash(`user_code:${value}`)}`,
    seal(value) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
      const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
      return `${SEALED}${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
    },
    unseal<T>(text: unknown): T | undefined {
      if (typeof text !== 'string' || !text.startsWith(SEALED)) return undefined;
      try {
        const raw = Buffer.from(text.slice(SEALED.length), 'base64url');
        const decipher = createDecipheriv('aes-256-gcm', sealKey, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        const body = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
        return JSON.parse(body.toString('utf8')) as T;
      } catch {
        return undefined;
      }
    },
  };
}

type Payload = Record<string, unknown>;

/**
 * The payload as stored for record `model` (the engine's own `payload` is left untouched): no `jti`;
 * a device code's `jti` and `userCode` sealed; an Interaction's session cookie hashed and device code
 * sealed. `value` is the engine's id for the record (raw, or a stored id).
 */
export function storedPayload(ids: RecordIds, model: string, value: string, payload: Payload): Payload {
  if (model === 'Interaction') {
    const session = payload.session as Payload | undefined;
    const cookie = session?.cookie;
    const deviceCode = payload.deviceCode;
    if (typeof cookie !== 'string' && typeof deviceCode !== 'string') return payload;
    const out: Payload = { ...payload };
    if (typeof cookie === 'string') out.session = { ...session, cookie: ids.write('Session', cookie) };
    if (typeof deviceCode === 'string' && ids.unseal(deviceCode) === undefined)
      out.deviceCode = ids.seal(deviceCode);
    return out;
  }
  if (!HASHED_MODELS.has(model)) return payload;
  const { jti: _jti, ...out } = payload;
  if (model === 'DeviceCode') {
    const { userCode, ...rest } = out;
    return { ...rest, sealed: ids.seal({ jti: value, userCode }) };
  }
  return out;
}

/**
 * The payload the engine gets back for stored record `model`, found by `value` (what the engine asked
 * for; for a lookup by uid or user code, the record's stored id) — the reverse of `storedPayload`.
 */
export function restoredPayload(ids: RecordIds, model: string, value: string, payload: Payload): Payload {
  if (model === 'Interaction') {
    const deviceCode = ids.unseal<string>(payload.deviceCode);
    if (deviceCode !== undefined) payload.deviceCode = deviceCode;
    return payload;
  }
  if (!HASHED_MODELS.has(model)) return payload;
  if (model === 'DeviceCode') {
    const sealed = ids.unseal<{ jti?: string; userCode?: string }>(payload.sealed);
    delete payload.sealed;
    if (sealed?.userCode !== undefined) payload.userCode = sealed.userCode;
    payload.jti = sealed?.jti ?? value;
    return payload;
  }
  payload.jti = value;
  return payload;
}

/**
 * Records written before ids were hashed (raw ids, `jti` in the payload): rewritten once, at start
 * after the migrations (main/assemble.ts), to what the adapter writes now, so a token issued before
 * the upgrade keeps working and no raw value stays in the database. Idempotent and safe from several
 * processes at once: every row is rewritten by a conditional update on its old (model, id), so of
 * two processes rewriting one row exactly one changes it; a row already rewritten is not selected
 * again. Returns how many records were rewritten. A database that never held raw ids costs one
 * indexed-range query per model.
 */
export async function rehashLegacyRecords(database: Database, key: Buffer, batchSize = 500): Promise<number> {
  const ids = createRecordIds(key);
  const { db } = database;
  let rewritten = 0;
  for (const model of [...HASHED_MODELS, 'Interaction']) {
    let after = '';
    for (;;) {
      let query = db
        .selectFrom('oidc_records')
        .select(['id', 'payload', 'user_code'])
        .where('model', '=', model)
        .where('id', '>', after)
        .orderBy('id')
        .limit(batchSize);
      // Stored ids start with `h.`; raw ids (URL-safe base64) never contain a dot.
      if (model !== 'Interaction') query = query.where('id', 'not like', 'h.%');
      const rows = await query.execute();
      if (rows.length === 0) break;
      after = rows[rows.length - 1]?.id ?? after;
      await db.transaction().execute(async (trx) => {
        for (const row of rows) {
          let payload: Payload;
          try {
            payload = JSON.parse(row.payload) as Payload;
          } catch {
            continue;
          }
          const id = model === 'Interaction' ? row.id : ids.write(model, row.id);
          const stored = JSON.stringify(storedPayload(ids, model, row.id, payload));
          if (id === row.id && stored === row.payload) continue;
          const userCode =
            model === 'DeviceCode' && row.user_code !== null && !ids.isStored(row.user_code)
              ? ids.userCode(row.user_code)
              : row.user_code;
          const result = await trx
            .updateTable('oidc_records')
            .set({ id, payload: stored, user_code: userCode })
            .where('model', '=', model)
            .where('id', '=', row.id)
            .where('payload', '=', row.payload)
            .executeTakeFirst();
          rewritten += Number(result.numUpdatedRows);
        }
      });
    }
  }
  return rewritten;
}
