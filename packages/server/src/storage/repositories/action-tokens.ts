import type { Database } from '../database.js';

/**
 * One-time links (password reset). Contract: only the token's hash is stored (`sha256Base64url`);
 * `consume` succeeds at most once, before expiry, for the right kind; a user has at most one live
 * link of a kind — `create` retires the others in the same transaction, so an older link handed
 * over earlier (and perhaps read by someone else) stops working once a newer one exists.
 */
export function actionTokensRepository(database: Database) {
  const { db } = database;
  return {
    async create(input: {
      tokenHash: string;
      kind: string;
      userId: string;
      expiresAt: number;
    }): Promise<void> {
      const now = Date.now();
      await db.transaction().execute(async (trx) => {
        await trx
          .updateTable('action_tokens')
          .set({ used_at: now })
          .where('user_id', '=', input.userId)
          .where('kind', '=', input.kind)
          .where('used_at', 'is', null)
          .execute();
        await trx
          .insertInto('action_tokens')
          .values({
            token_hash: input.tokenHash,
            kind: input.kind,
            user_id: input.userId,
            expires_at: input.expiresAt,
            used_at: null,
            created_at: now,
          })
          .execute();
      });
    },
    async peek(tokenHash: string, kind: string): Promise<{ userId: string } | undefined> {
      const row = await db
        .selectFrom('action_tokens')
        .select('user_id')
        .where('token_hash', '=', tokenHash)
        .where('kind', '=', kind)
        .where('used_at', 'is', null)
        .where('expires_at', '>', Date.now())
        .executeTakeFirst();
      return row ? { userId: row.user_id } : undefined;
    },
    /** Uses the token: its user for exactly one caller before expiry, undefined otherwise. */
    async consume(tokenHash: string, kind: string): Promise<{ userId: string } | undefined> {
      const now = Date.now();
      const row = await db
        .updateTable('action_tokens')
        .set({ used_at: now })
        .where('token_hash', '=', tokenHash)
        .where('kind', '=', kind)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .returning('user_id')
        .executeTakeFirst();
      return row ? { userId: row.user_id } : undefined;
    },
  };
}
