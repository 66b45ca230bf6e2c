import { copyFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sql } from 'kysely';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../test-support/browser.js';
import { testDatabaseKinds } from '../test-support/databases.js';
import { BrowserTokenSource, discover, exchange, refreshRaw } from '../test-support/oidc-client.js';
import { startTestServer, type TestServer } from '../test-support/server.js';

const BOB = { email: 'bob@beta.test', password: 'correct horse battery staple' };
const CLIENT = 'acme-desktop';

/**
 * A copy of the database alone signs nobody in: after a full sign-in (browser session, code,
 * exchange) and a refresh, no text column of any table holds the refresh tokens, the code, the access
 * token or the browser session cookie as issued (oidc_records stores keyed hashes of them).
 */
describe.each(testDatabaseKinds())('a copy of the database on %s', (kind) => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    [server, browser] = await Promise.all([startTestServer({ kind }), launchBrowser()]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.dispose();
  });

  /** Every text value of every table: from a copy of the file on SQLite, from the database on PostgreSQL. */
  async function everyText(): Promise<{ where: string; value: string }[]> {
    const out: { where: string; value: string }[] = [];
    if (kind === 'sqlite') {
      const file = server.config.databaseUrl.replace(/^sqlite:(\/\/)?/, '');
      const dir = await mkdtemp(path.join(os.tmpdir(), 'latchkey-copy-'));
      const copy = path.join(dir, 'copy.db');
      // What a file backup takes: the database and its write-ahead log.
      await copyFile(file, copy);
      await copyFile(`${file}-wal`, `${copy}-wal`).catch(() => undefined);
      const db = new BetterSqlite3(copy);
      try {
        const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as {
          name: string;
        }[];
        for (const { name } of tables) {
          for (const row of db.prepare(`select * from "${name}"`).all() as Record<string, unknown>[]) {
            for (const [column, value] of Object.entries(row)) {
              if (typeof value === 'string') out.push({ where: `${name}.${column}`, value });
            }
          }
        }
      } finally {
        db.close();
      }
      return out;
    }
    const { db } = server.parts.database;
    const columns = await sql<{ table_name: string; column_name: string }>`
      select table_name, column_name from information_schema.columns
      where table_schema = current_schema() and data_type in ('text', 'character varying')`.execute(db);
    for (const { table_name, column_name } of columns.rows) {
      const rows = await sql<{ v: string | null }>`select ${sql.ref(column_name)} as v from ${sql.table(
        table_name,
      )}`.execute(db);
      for (const r of rows.rows)
        if (r.v !== null) out.push({ where: `${table_name}.${column_name}`, value: r.v });
    }
    return out;
  }

  it('holds no refresh token, code, access token or session cookie as issued', async () => {
    const config = await discover(server.issuer, CLIENT);
    const context = await browser.newContext();
    const source = new BrowserTokenSource(context, config, BOB);
    const issued = await source.code();
    const tokens = await exchange(config, issued.pending, issued.callback);
    const refreshed = await refreshRaw(server.issuer, CLIENT, tokens.refresh_token as string);
    expect(refreshed.status, refreshed.text).toBe(200);
    // A second sign-in in the same browser: an interaction of a live session, another code.
    const second = await source.code();
    const session = (await context.cookies()).find((c) => c.name === 'lk_session')?.value;
    expect(session).toBeTruthy();

    const secrets: Record<string, string> = {
      code: issued.code,
      'second code': second.code,
      'refresh token (first)': tokens.refresh_token as string,
      'refresh token (rotated)': refreshed.json?.refresh_token as string,
      'access token': refreshed.json?.access_token as string,
      'session cookie': session as string,
    };
    const texts = await everyText();
    expect(texts.length).toBeGreaterThan(10);
    const found = Object.entries(secrets).flatMap(([what, secret]) =>
      texts.filter((t) => t.value.includes(secret)).map((t) => `${what} in ${t.where}`),
    );
    expect(found).toEqual([]);
    await context.close();
  });
});
