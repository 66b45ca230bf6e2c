import type { LatchkeyConfig } from './types.js';

const REDACTED = '[redacted]';

function redactUrlPassword(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const url = new URL(value);
    if (url.password === '') return value;
    url.password = 'redacted';
    return url.href;
  } catch {
    return value;
  }
}

/**
 * A copy of the configuration that is safe to log or print: the operator secret, client and
 * connection secrets, dev user passwords and TOTP secrets, and URL passwords are replaced.
 */
export function redactConfig(config: Readonly<LatchkeyConfig>): LatchkeyConfig {
  const copy = structuredClone(config) as LatchkeyConfig;
  copy.secret = REDACTED;
  copy.databaseUrl = redactUrlPassword(copy.databaseUrl) ?? copy.databaseUrl;
  copy.redisUrl = redactUrlPassword(copy.redisUrl);
  for (const client of copy.clients) if (client.secret !== undefined) client.secret = REDACTED;
  for (const org of copy.organizations) {
    const c = org.connection;
    if ((c.type === 'google' || c.type === 'oidc') && c.clientSecret !== undefined) c.clientSecret = REDACTED;
  }
  for (const user of copy.users) {
    if (user.password !== undefined) user.password = REDACTED;
    if (user.totpSecret !== undefined) user.totpSecret = REDACTED;
  }
  return copy;
}
