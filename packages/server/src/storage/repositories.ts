import type { SecretBox } from '../crypto/secret-box.js';
import { DecryptionError } from '../crypto/secret-box.js';
import { ServerError } from '../errors/server-error.js';
import type { Database } from './database.js';
import { actionTokensRepository } from './repositories/action-tokens.js';
import { administratorsRepository } from './repositories/administrators.js';
import { auditRepository } from './repositories/audit.js';
import { clientsRepository } from './repositories/clients.js';
import { credentialsRepository } from './repositories/credentials.js';
import { organizationsRepository } from './repositories/organizations.js';
import { replayCacheRepository } from './repositories/replay-cache.js';
import { resourcesRepository } from './repositories/resources.js';
import { scimRepository } from './repositories/scim.js';
import { signInStatesRepository } from './repositories/sign-in-states.js';
import { signingKeysRepository } from './repositories/signing-keys.js';
import { upstreamRequestsRepository } from './repositories/upstream-requests.js';
import { usersRepository } from './repositories/users.js';

/**
 * Every repository over one database. Each module states its contract (uniqueness, what it throws,
 * what is encrypted) in its doc comment; the conformance suite (conformance/, one test file per
 * contract) checks them on SQLite and PostgreSQL alike.
 */
export function createRepositories(database: Database, box: SecretBox) {
  return {
    organizations: organizationsRepository(database, box),
    users: usersRepository(database, box),
    credentials: credentialsRepository(database, box),
    clients: clientsRepository(database, box),
    resources: resourcesRepository(database),
    signingKeys: signingKeysRepository(database, box),
    audit: auditRepository(database),
    signInStates: signInStatesRepository(database),
    upstreamRequests: upstreamRequestsRepository(database),
    replayCache: replayCacheRepository(database),
    actionTokens: actionTokensRepository(database),
    scim: scimRepository(database),
    administrators: administratorsRepository(database),
  };
}

export type Repositories = ReturnType<typeof createRepositories>;

export class WrongSecretError extends ServerError {
  override readonly name = 'WrongSecretError';
  constructor(message: string) {
    super('wrong_operator_secret', message);
  }
}

const CHECK_VALUE = 'latchkey-secret-check';

/**
 * The first start stores an encrypted known value; every later start must open it. A different
 * LATCHKEY_SECRET would otherwise "work" until the first encrypted secret is read back as garbage.
 */
export async function verifyOperatorSecret(database: Database, box: SecretBox): Promise<void> {
  const read = () =>
    database.db.selectFrom('meta').select('value').where('key', '=', 'secret_check').executeTakeFirst();
  let row = await read();
  if (!row) {
    await database.db
      .insertInto('meta')
      .values({ key: 'secret_check', value: box.encrypt(CHECK_VALUE, 'meta:secret_check') })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    // Another process may have won the first start with its own secret: check what is stored.
    row = await read();
  }
  try {
    if (row && box.decrypt(row.value, 'meta:secret_check') === CHECK_VALUE) return;
  } catch (error) {
    if (!(error instanceof DecryptionError)) throw error;
  }
  throw new WrongSecretError(
    'LATCHKEY_SECRET does not match the one this database was created with: start with the original secret (or its key file). Encrypted values in this database cannot be read with another one.',
  );
}
