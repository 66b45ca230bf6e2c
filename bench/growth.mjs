// Bulk data for the growth benchmark: N users, each with a grant and a live refresh token, written
// straight into a migrated Latchkey PostgreSQL database with INSERT … SELECT generate_series (the
// server never sees them one by one). Usable on its own:
//   node bench/growth.mjs postgres://postgres@127.0.0.1:5432/mydb --users 1000000
import { performance } from 'node:perf_hooks';
import pg from 'pg';

const BATCH = 100_000;

/**
 * Inserts `users` users into organization `organizationId` (which must exist), plus one Grant and one
 * RefreshToken record per user in `oidc_records`, shaped like the engine's. Returns seconds taken.
 */
export async function generateUsers(url, { users, organizationId = 'beta', onProgress } = {}) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const started = performance.now();
  try {
    await client.query('SET synchronous_commit = off');
    const now = Date.now();
    const nowSeconds = Math.floor(now / 1000);
    const expires = now + 30 * 24 * 3600 * 1000;
    const { rows } = await client.query(
      "SELECT coalesce(max(substring(id from 6)::int), 0) AS last FROM users WHERE id LIKE 'bulk-%'",
    );
    const first = Number(rows[0].last) + 1;
    for (let from = first; from < first + users; from += BATCH) {
      const to = Math.min(first + users - 1, from + BATCH - 1);
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO users (id, organization_id, email, email_normalized, name, status, created_at, updated_at)
         SELECT 'bulk-' || i, $3, 'user' || i || '@bulk.test', 'user' || i || '@bulk.test', 'User ' || i,
                'active', $4, $4
         FROM generate_series($1::int, $2::int) AS i`,
        [from, to, organizationId, now],
      );
      await client.query(
        `INSERT INTO oidc_records (model, id, payload, grant_id, account_id, expires_at, created_at)
         SELECT 'Grant', g.id,
                json_build_object('kind', 'Grant', 'jti', g.id, 'accountId', 'bulk-' || g.i,
                  'clientId', 'acme-desktop', 'iat', $4::bigint, 'exp', $4::bigint + 2592000,
                  'openid', json_build_object('scope', 'openid email profile offline_access'))::text,
                g.id, 'bulk-' || g.i, $3, $5
         FROM (SELECT i, 'bg' || md5(i::text) AS id FROM generate_series($1::int, $2::int) AS i) AS g`,
        [from, to, expires, nowSeconds, now],
      );
      await client.query(
        `INSERT INTO oidc_records (model, id, payload, grant_id, account_id, expires_at, created_at)
         SELECT 'RefreshToken', g.id,
                json_build_object('kind', 'RefreshToken', 'jti', g.id, 'accountId', 'bulk-' || g.i,
                  'clientId', 'acme-desktop', 'grantId', 'bg' || md5(g.i::text), 'gty', 'authorization_code',
                  'scope', 'openid email profile offline_access', 'iat', $4::bigint, 'iiat', $4::bigint,
                  'authTime', $4::bigint, 'exp', $4::bigint + 2592000, 'expiresWithSession', false)::text,
                'bg' || md5(g.i::text), 'bulk-' || g.i, $3, $5
         FROM (SELECT i, md5('rt' || i) || substr(md5('x' || i), 1, 11) AS id
               FROM generate_series($1::int, $2::int) AS i) AS g`,
        [from, to, expires, nowSeconds, now],
      );
      await client.query('COMMIT');
      onProgress?.(to - first + 1);
    }
    await client.query('VACUUM ANALYZE users');
    await client.query('VACUUM ANALYZE oidc_records');
    // Write the generated pages out now rather than during the measurement that follows.
    await client.query('CHECKPOINT');
    return (performance.now() - started) / 1000;
  } finally {
    await client.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.argv[2];
  const i = process.argv.indexOf('--users');
  const users = i > 0 ? Number(process.argv[i + 1]) : 100_000;
  if (!url?.startsWith('postgres')) {
    console.error('usage: node bench/growth.mjs postgres://… [--users N]');
    process.exit(2);
  }
  const seconds = await generateUsers(url, {
    users,
    onProgress: (done) => process.stderr.write(`\r${done} users`),
  });
  console.error(`\n${users} users with grants and refresh tokens in ${seconds.toFixed(1)} s`);
}
