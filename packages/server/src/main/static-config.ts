import type { LatchkeyConfig } from '../config/types.js';
import type { PasswordHasher } from '../domain/passwords/password-hasher.js';
import type { Repositories } from '../storage/repositories.js';

/**
 * Applies what the configuration file declares (like Dex's static configuration): clients,
 * resources, organizations with their domains and connection, and — in development only — local
 * users. Idempotent: a restart with the same file changes nothing; users that already exist keep
 * their password and 2-step verification (the file only seeds them).
 */
export async function applyStaticConfig(
  repos: Repositories,
  config: LatchkeyConfig,
  hasher: PasswordHasher,
): Promise<void> {
  for (const client of config.clients) await repos.clients.upsertFromConfig(client);
  for (const resource of config.resources) await repos.resources.upsert(resource);
  for (const org of config.organizations) {
    await repos.organizations.upsertFromConfig(org);
  }
  for (const user of config.users) {
    const domain = user.email.slice(user.email.lastIndexOf('@') + 1).toLowerCase();
    const org = config.organizations.find((o) => o.domains.some((d) => d.toLowerCase() === domain));
    if (!org) continue; // refused by config validation already
    const existing = await repos.users.findByEmail(user.email);
    if (existing) continue;
    const created = await repos.users.create({ organizationId: org.id, email: user.email, name: user.name });
    if (user.password) await repos.credentials.setPassword(created.id, await hasher.hash(user.password));
    if (user.totpSecret) await repos.credentials.setTotp(created.id, user.totpSecret);
  }
}
