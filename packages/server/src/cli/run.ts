import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AdminError } from '../admin/errors.js';
import { listKeys, rotateKeys } from '../admin/keys.js';
import { ConfigError } from '../config/errors.js';
import { loadConfig } from '../config/load.js';
import { MIN_SECRET_LENGTH } from '../config/operator-secret.js';
import type { LatchkeyConfig } from '../config/types.js';
import { SecretBox } from '../crypto/secret-box.js';
import { openAdmin, operatorActor } from '../main/open-admin.js';
import { openDatabase } from '../storage/database.js';
import { migrateToLatest, migrationStatus } from '../storage/migrate.js';
import { WrongSecretError } from '../storage/repositories.js';
import { rotateOperatorSecret } from '../storage/secret-rotation.js';
import { ADMIN_COMMANDS, adminCommandKey, type CommandOutput } from './admin-commands.js';
import { type ParsedArgs, parseArgs, UsageError } from './args.js';
import { allowFlags, BOOLEAN_FLAGS, booleanFlag, durationFlag, optionalString } from './flags.js';
import { type CliIo, readSecret } from './io.js';
import { formatTime, json, table } from './output.js';

export const USAGE = `Usage: latchkey <command> [--config FILE] [--json]

  serve                                 start the server (SIGTERM/SIGINT stop it gracefully)
  migrate [--status]                    apply database migrations, or list them
  keys list                             signing and cookie keys with their state
  keys rotate [--activate-in 10m] [--keep-old 1d]
                                        publish new keys now, sign with them after --activate-in,
                                        keep the old ones verifying for --keep-old after that
  secret rotate [--new-secret-file F]   re-encrypt secrets at rest under a new operator secret
                                        (new secret from the file or stdin; stop servers first)

  admin clients add --id ID --name NAME --redirect-uri URI [--redirect-uri URI…]
                    [--device-flow] [--kind native|web] [--secret-stdin]
                    [--id-token-alg RS256|ES256]
                    [--dpop required|optional]   (default: required for native, docs/dpop.md)
  admin clients list | remove --id ID
  admin users add --email E [--name N] [--org O] [--no-password]   (password from stdin)
  admin users list [--org O]
  admin users disable|enable|reset-2sv|reset-link --user E        (reset-2sv, reset-link, set-password:
                                                                  local accounts only)
  admin users set-password --user E                                (password from stdin)
  admin users clear-throttle --user E [--ip ADDRESS]
  admin sessions list --user E             signed-in apps per device, browser sessions
  admin sessions revoke --user E [--id ID] everything this user holds at once, or one (an id from list)
  admin admins list [--organization O] | grant|revoke --user E [--organization O]
                                          instance administrators, or of one organization
  admin orgs list | add --id O --name N [--domain D…] [--require-2sv] [--no-jit] | remove --id O
  admin domains list | add --org O --domain D [--verify] | remove --domain D | verify --domain D
  admin connections set --org O --type local
  admin connections set --org O --type google --client-id ID --client-secret-stdin [--issuer URL]
  admin connections set --org O --type oidc --issuer URL --client-id ID [--client-secret-stdin]
                        [--scopes openid,email,profile] [--prompt P] [--entra-tenant-id T]
                        [--claim-subject C] [--claim-email C] [--claim-name C] [--claim-groups C]
  admin scim-tokens create --org O [--label L]   (prints the SCIM URL and the token, once)
  admin scim-tokens list [--org O] | revoke --id ID [--org O]
  admin audit [--user E] [--actor A] [--since 1h|ISO-DATE] [--limit N] [--action A]

Settings come from LATCHKEY_* environment variables and the --config file (or LATCHKEY_CONFIG);
admin commands need one of --config / LATCHKEY_CONFIG / --database URL / LATCHKEY_DATABASE_URL.
The audit log names the operating-system account that ran an admin command (os:<login>).
Exit codes: 0 done, 1 the command failed (unknown user, …), 2 bad command line, flag value or configuration.
`;

async function configFrom(args: ParsedArgs, io: CliIo): Promise<LatchkeyConfig> {
  const database = optionalString(args, 'database');
  const env = database !== undefined ? { ...io.env, LATCHKEY_DATABASE_URL: database } : io.env;
  return loadConfig({ env, cwd: io.cwd, configPath: optionalString(args, 'config') });
}

/**
 * `latchkey admin …` acts on a server's data: without its configuration it would quietly create
 * `./data/latchkey.db` wherever it is run and answer "(none)". It needs the configuration
 * (`--config`, LATCHKEY_CONFIG) or an explicit database (`--database`, LATCHKEY_DATABASE_URL).
 */
function requireTarget(args: ParsedArgs, io: CliIo): void {
  const given = (name: string) => (io.env[name] ?? '').trim() !== '';
  if (optionalString(args, 'config') !== undefined || optionalString(args, 'database') !== undefined) return;
  if (given('LATCHKEY_CONFIG') || given('LATCHKEY_DATABASE_URL')) return;
  throw new UsageError(
    'which server? give its configuration with --config FILE (or LATCHKEY_CONFIG), or its database with --database URL (or LATCHKEY_DATABASE_URL); without one, latchkey admin would read an empty ./data/latchkey.db',
  );
}

function print(io: CliIo, args: ParsedArgs, output: CommandOutput): void {
  io.out(booleanFlag(args, 'json') ? json(output.data) : output.text);
}

async function migrate(args: ParsedArgs, io: CliIo): Promise<number> {
  allowFlags(args, ['status']);
  const config = await configFrom(args, io);
  const database = await openDatabase(config.databaseUrl);
  try {
    if (booleanFlag(args, 'status')) {
      const status = await migrationStatus(database);
      const data = status.map((m) => ({ name: m.name, appliedAt: m.appliedAt?.getTime() ?? null }));
      print(io, args, {
        data,
        text: table(
          ['migration', 'applied'],
          data.map((m) => [m.name, m.appliedAt === null ? 'pending' : formatTime(m.appliedAt)]),
        ),
      });
    } else {
      const applied = await migrateToLatest(database);
      print(io, args, {
        data: { applied },
        text: applied.length > 0 ? `Applied ${applied.join(', ')}.\n` : 'The database is up to date.\n',
      });
    }
    return 0;
  } finally {
    await database.close();
  }
}

async function keys(args: ParsedArgs, io: CliIo): Promise<number> {
  const action = args.positionals[1];
  if (action === 'rotate') allowFlags(args, ['activate-in', 'keep-old']);
  else if (action === 'list') allowFlags(args, []);
  else throw new UsageError(`keys ${action ?? ''}: expected "keys list" or "keys rotate"`.replace('  ', ' '));
  const activateInMs = durationFlag(args, 'activate-in', '10m');
  const keepOldForMs = durationFlag(args, 'keep-old', '1d');
  const ctx = await openAdmin(await configFrom(args, io), {
    applyConfig: false,
    actor: operatorActor(io.env),
  });
  try {
    const data =
      action === 'rotate' ? await rotateKeys(ctx, { activateInMs, keepOldForMs }) : await listKeys(ctx);
    const rows = table(
      ['kid', 'alg', 'use', 'state', 'activates', 'retires', 'expires'],
      data.map((k) => [
        k.kid,
        k.alg,
        k.use,
        k.state,
        formatTime(k.activatesAt),
        formatTime(k.retiresAt),
        formatTime(k.expiresAt),
      ]),
    );
    const text =
      action === 'rotate'
        ? `Published new keys; they start signing at ${formatTime(data[0]?.activatesAt)}. Running servers pick them up at their next key poll.\n${rows}`
        : rows;
    print(io, args, { data, text });
    return 0;
  } finally {
    await ctx.close();
  }
}

/**
 * `latchkey secret rotate`: re-encrypts everything sealed under the current operator secret (from the
 * configuration) under a new one, read from `--new-secret-file` or standard input. Run it with the
 * servers stopped, then start them with the new secret.
 */
async function secret(args: ParsedArgs, io: CliIo): Promise<number> {
  if (args.positionals[1] !== 'rotate') throw new UsageError('secret: expected "secret rotate"');
  allowFlags(args, ['new-secret-file']);
  const file = optionalString(args, 'new-secret-file');
  const next = file
    ? (await readFile(path.resolve(io.cwd, file), 'utf8')).trim()
    : await readSecret(io, 'New operator secret: ');
  if (!next || next.length < MIN_SECRET_LENGTH) {
    throw new UsageError(`the new secret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  const config = await configFrom(args, io);
  if (next === config.secret) throw new UsageError('the new secret is the current one');
  const database = await openDatabase(config.databaseUrl);
  try {
    await migrateToLatest(database);
    const report = await rotateOperatorSecret(
      database,
      SecretBox.fromSecret(config.secret),
      SecretBox.fromSecret(next),
    );
    const total = Object.values(report).reduce((a, b) => a + b, 0);
    print(io, args, {
      data: report,
      text: `Re-encrypted ${total} values under the new secret. Start every server with it now (LATCHKEY_SECRET or LATCHKEY_SECRET_FILE).\n`,
    });
    return 0;
  } finally {
    await database.close();
  }
}

async function admin(argv: readonly string[], args: ParsedArgs, io: CliIo): Promise<number> {
  const positionals = args.positionals.slice(1);
  const key = adminCommandKey(positionals);
  const handler = ADMIN_COMMANDS[key];
  if (!handler) {
    const known = [...new Set(Object.keys(ADMIN_COMMANDS).map((k) => k.split(' ')[0]))].join(', ');
    throw new UsageError(
      key
        ? `unknown admin command "${key}" (groups: ${known}; see latchkey --help)`
        : `admin needs a command: ${known}`,
    );
  }
  requireTarget(args, io);
  const ctx = await openAdmin(await configFrom(args, io), { actor: operatorActor(io.env) });
  try {
    print(io, args, await handler({ ctx, args: { ...args, positionals }, argv, io }));
    return 0;
  } finally {
    await ctx.close();
  }
}

/** Runs one command line; resolves to the process exit code. Messages, never stack traces. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const args = parseArgs([...argv], BOOLEAN_FLAGS);
    const command = args.positionals[0];
    if (command === undefined || command === 'help' || booleanFlag(args, 'help')) {
      io.out(USAGE);
      return command === undefined && !booleanFlag(args, 'help') ? 2 : 0;
    }
    switch (command) {
      case 'serve':
        allowFlags(args, []);
        {
          const config = await configFrom(args, io);
          // Loaded here only: the engine is not needed by the other commands.
          const { serve } = await import('./serve.js');
          return await serve(config);
        }
      case 'migrate':
        return await migrate(args, io);
      case 'keys':
        return await keys(args, io);
      case 'admin':
        return await admin(argv, args, io);
      case 'secret':
        return await secret(args, io);
      default:
        throw new UsageError(
          `unknown command "${command}" (serve, migrate, keys, secret, admin; see latchkey --help)`,
        );
    }
  } catch (error) {
    return report(error, io);
  }
}

function report(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    io.err(`latchkey: ${error.message}\n`);
    return 2;
  }
  if (error instanceof ConfigError) {
    io.err(`${error.message}\n`);
    return 2;
  }
  if (error instanceof AdminError && error.code === 'invalid') {
    // A value the command refused (it names the flag): a command-line mistake like any other.
    io.err(`latchkey: ${error.message}\n`);
    return 2;
  }
  if (error instanceof AdminError || error instanceof WrongSecretError) {
    io.err(`latchkey: ${error.message}\n`);
    return 1;
  }
  const err = error as Error;
  io.err(`latchkey: ${err?.message ?? String(error)}\n`);
  if (io.env.LATCHKEY_DEBUG && err?.stack) io.err(`${err.stack}\n`);
  return 1;
}
