import { grantAdmin, listAdmins, revokeAdmin } from '../admin/admins.js';
import { listAudit } from '../admin/audit.js';
import { addClient, listClients, removeClient } from '../admin/clients.js';
import type { AdminContext } from '../admin/context.js';
import {
  addDomain,
  addOrganization,
  listDomains,
  listOrganizations,
  removeDomain,
  removeOrganization,
  setConnection,
  verifyDomain,
} from '../admin/organizations.js';
import { createScimToken, listScimTokens, revokeScimToken } from '../admin/scim-tokens.js';
import { listSessions, revokeSession, revokeSessions } from '../admin/sessions.js';
import {
  addUser,
  clearThrottle,
  createResetLink,
  disableUser,
  enableUser,
  listUsers,
  resetTwoStep,
  setPassword,
  type UserSummary,
} from '../admin/users.js';
import { type ParsedArgs, UsageError } from './args.js';
import {
  allowFlags,
  booleanFlag,
  optionalString,
  positiveInt,
  repeated,
  requireString,
  sinceFlag,
} from './flags.js';
import { type CliIo, readSecret } from './io.js';
import { formatTime, table } from './output.js';

export interface AdminCommandInput {
  ctx: AdminContext;
  args: ParsedArgs;
  /** The raw arguments, for repeatable flags. */
  argv: readonly string[];
  io: CliIo;
}

/** A command's result: printed as JSON with `--json`, else as the text. */
export interface CommandOutput {
  data: unknown;
  text: string;
}

type Handler = (input: AdminCommandInput) => Promise<CommandOutput>;

const userTable = (users: UserSummary[]) =>
  table(
    ['email', 'name', 'organization', 'status', 'created', 'last sign-in', 'id'],
    users.map((u) => [
      u.email,
      u.name,
      u.organizationId,
      u.status,
      formatTime(u.createdAt),
      formatTime(u.lastSignInAt),
      u.id,
    ]),
  );

/** The email (or id) a user command acts on: `--user E`, `--email E` or the first positional. */
function userArg(args: ParsedArgs): string {
  const value = optionalString(args, 'user') ?? optionalString(args, 'email') ?? args.positionals[2];
  if (!value) throw new UsageError('--user is required (the email of the user)');
  return value;
}

async function newPassword(io: CliIo): Promise<string> {
  const password = await readSecret(io, 'New password: ');
  if (password === undefined) {
    throw new UsageError(
      'no password on stdin: pipe it in, e.g. printf "%s\\n" "$PASSWORD" | latchkey admin …',
    );
  }
  return password;
}

export const ADMIN_COMMANDS: Record<string, Handler> = {
  // ---- clients ----
  async 'clients add'({ ctx, args, argv, io }) {
    allowFlags(args, [
      'id',
      'name',
      'redirect-uri',
      'device-flow',
      'kind',
      'secret-stdin',
      'id-token-alg',
      'dpop',
    ]);
    const kind = optionalString(args, 'kind') ?? 'native';
    if (kind !== 'native' && kind !== 'web') throw new UsageError('--kind must be native or web');
    const idTokenAlg = optionalString(args, 'id-token-alg');
    if (idTokenAlg !== undefined && idTokenAlg !== 'RS256' && idTokenAlg !== 'ES256')
      throw new UsageError('--id-token-alg must be RS256 or ES256');
    const dpop = optionalString(args, 'dpop');
    if (dpop !== undefined && dpop !== 'required' && dpop !== 'optional')
      throw new UsageError('--dpop must be required or optional');
    let secret: string | undefined;
    if (booleanFlag(args, 'secret-stdin')) {
      secret = await readSecret(io, 'Client secret: ');
      if (!secret) throw new UsageError('--secret-stdin: no secret on stdin');
    }
    const client = await addClient(ctx, {
      id: requireString(args, 'id', 'the client id'),
      name: optionalString(args, 'name'),
      kind,
      redirectUris: repeated(argv, 'redirect-uri'),
      deviceFlow: booleanFlag(args, 'device-flow'),
      secret,
      idTokenSignedResponseAlg: idTokenAlg,
      dpop,
    });
    return { data: client, text: `Added client ${client.id} (${client.kind}).\n` };
  },
  async 'clients list'({ ctx, args }) {
    allowFlags(args, []);
    const clients = await listClients(ctx);
    return {
      data: clients,
      text: table(
        ['id', 'name', 'kind', 'device flow', 'source', 'redirect uris'],
        clients.map((c) => [
          c.id,
          c.name,
          c.kind,
          c.deviceFlow ? 'yes' : 'no',
          c.source,
          c.redirectUris.join(' '),
        ]),
      ),
    };
  },
  async 'clients remove'({ ctx, args }) {
    allowFlags(args, ['id']);
    const id = optionalString(args, 'id') ?? args.positionals[2];
    if (!id) throw new UsageError('--id is required (the client id)');
    await removeClient(ctx, id);
    return { data: { removed: id }, text: `Removed client ${id}.\n` };
  },

  // ---- users ----
  async 'users add'({ ctx, args, io }) {
    allowFlags(args, ['email', 'name', 'org', 'no-password']);
    const email = requireString(args, 'email', 'the email address');
    const password = booleanFlag(args, 'no-password') ? undefined : await newPassword(io);
    const user = await addUser(ctx, {
      email,
      name: optionalString(args, 'name'),
      organizationId: optionalString(args, 'org'),
      password,
    });
    return { data: user, text: `Added user ${user.email} to ${user.organizationId}.\n` };
  },
  async 'users list'({ ctx, args }) {
    allowFlags(args, ['org']);
    const users = await listUsers(ctx, { organizationId: optionalString(args, 'org') });
    return { data: users, text: userTable(users) };
  },
  async 'users disable'({ ctx, args }) {
    allowFlags(args, ['user', 'email']);
    const result = await disableUser(ctx, userArg(args));
    return {
      data: result,
      text: `Disabled ${result.user.email}; revoked ${result.revoked} sessions, grants and tokens.\n`,
    };
  },
  async 'users enable'({ ctx, args }) {
    allowFlags(args, ['user', 'email']);
    const user = await enableUser(ctx, userArg(args));
    return { data: user, text: `Enabled ${user.email}.\n` };
  },
  async 'users set-password'({ ctx, args, io }) {
    allowFlags(args, ['user', 'email']);
    const target = userArg(args);
    const user = await setPassword(ctx, target, await newPassword(io));
    return { data: user, text: `Password set for ${user.email}.\n` };
  },
  async 'users reset-2sv'({ ctx, args }) {
    allowFlags(args, ['user', 'email']);
    const result = await resetTwoStep(ctx, userArg(args));
    const { totp, passkeys, recoveryCodes } = result.removed;
    return {
      data: result,
      text: `Removed 2-step verification of ${result.user.email}: ${totp} authenticator app, ${passkeys} passkeys, ${recoveryCodes} recovery codes.\n`,
    };
  },
  async 'users clear-throttle'({ ctx, args }) {
    allowFlags(args, ['user', 'email', 'ip']);
    const result = await clearThrottle(ctx, userArg(args), optionalString(args, 'ip'));
    const note = result.shared
      ? ''
      : 'Note: without LATCHKEY_REDIS_URL each server keeps its counters in its own memory, out of reach of this command; they clear themselves when the window passes or the server restarts.\n';
    return { data: result, text: `Cleared ${result.cleared.join(', ')}.\n${note}` };
  },
  async 'users reset-link'({ ctx, args }) {
    allowFlags(args, ['user', 'email']);
    const result = await createResetLink(ctx, userArg(args));
    return {
      data: result,
      text: `One-time link for ${result.user.email} (valid until ${formatTime(result.expiresAt)}):\n${result.url}\n`,
    };
  },

  // ---- sessions ----
  async 'sessions list'({ ctx, args }) {
    allowFlags(args, ['user', 'email']);
    const listing = await listSessions(ctx, userArg(args));
    const apps = table(
      ['app', 'device', 'address', 'signed in', 'last used', 'id'],
      listing.apps.map((a) => [
        a.app,
        a.device,
        a.ip,
        formatTime(a.createdAt),
        formatTime(a.lastUsedAt),
        a.grantId,
      ]),
    );
    const browsers = table(
      ['browser', 'address', 'signed in', 'last used', 'apps launched', 'id'],
      listing.browsers.map((b) => [
        b.device,
        b.ip,
        formatTime(b.createdAt),
        formatTime(b.lastUsedAt),
        b.apps.map((a) => a.app).join(', '),
        b.id,
      ]),
    );
    return {
      data: listing,
      text: `Signed-in apps:\n${apps}\nBrowser sessions:\n${browsers}\nEnd one with: latchkey admin sessions revoke --user … --id <id>\n`,
    };
  },
  async 'sessions revoke'({ ctx, args }) {
    allowFlags(args, ['user', 'email', 'id']);
    const target = userArg(args);
    const one = optionalString(args, 'id');
    if (one !== undefined) {
      const ended = await revokeSession(ctx, target, one);
      return {
        data: ended,
        text: `Ended the ${ended.revoked === 'app' ? "app's sign-in" : 'browser session'} ${one} of ${target}.\n`,
      };
    }
    const result = await revokeSessions(ctx, target);
    return { data: result, text: `Revoked ${result.revoked} sessions, grants and tokens of ${target}.\n` };
  },

  // ---- organizations, domains, connections ----
  async 'orgs list'({ ctx, args }) {
    allowFlags(args, []);
    const orgs = await listOrganizations(ctx);
    return {
      data: orgs,
      text: table(
        ['id', 'name', 'connection', 'require 2sv', 'source', 'domains'],
        orgs.map((o) => [
          o.id,
          o.name,
          o.connection,
          o.policy.require2sv ? 'yes' : 'no',
          o.source,
          o.domains.map((d) => (d.verified ? d.domain : `${d.domain} (unverified)`)).join(' '),
        ]),
      ),
    };
  },
  async 'orgs add'({ ctx, args, argv }) {
    allowFlags(args, ['id', 'name', 'domain', 'require-2sv', 'no-jit']);
    const org = await addOrganization(ctx, {
      id: requireString(args, 'id', 'the organization id'),
      name: requireString(args, 'name', 'the display name'),
      domains: repeated(argv, 'domain'),
      require2sv: booleanFlag(args, 'require-2sv') || undefined,
      jitProvisioning: booleanFlag(args, 'no-jit') ? false : undefined,
    });
    return { data: org, text: `Added organization ${org.id}.\n` };
  },
  async 'orgs remove'({ ctx, args }) {
    allowFlags(args, ['id']);
    const id = optionalString(args, 'id') ?? args.positionals[2];
    if (!id) throw new UsageError('--id is required (the organization id)');
    await removeOrganization(ctx, id);
    return { data: { removed: id }, text: `Removed organization ${id}.\n` };
  },
  async 'domains list'({ ctx, args }) {
    allowFlags(args, []);
    const domains = await listDomains(ctx);
    return {
      data: domains,
      text: table(
        ['domain', 'organization', 'verified', 'txt record'],
        domains.map((d) => [d.domain, d.organizationId, d.verified ? 'yes' : 'no', d.txtRecord]),
      ),
    };
  },
  async 'domains add'({ ctx, args }) {
    allowFlags(args, ['org', 'domain', 'verify']);
    const domain = await addDomain(ctx, {
      organizationId: requireString(args, 'org', 'the organization id'),
      domain:
        optionalString(args, 'domain') ?? args.positionals[2] ?? requireString(args, 'domain', 'the domain'),
      verify: booleanFlag(args, 'verify'),
    });
    const text = domain.txtRecord
      ? `Added ${domain.domain} to ${domain.organizationId}, unverified. Publish this DNS TXT record on ${domain.domain}:\n  ${domain.txtRecord}\nthen run: latchkey admin domains verify ${domain.domain}\n`
      : `Added ${domain.domain} to ${domain.organizationId}.\n`;
    return { data: domain, text };
  },
  async 'domains remove'({ ctx, args }) {
    allowFlags(args, ['domain']);
    const domain = optionalString(args, 'domain') ?? args.positionals[2];
    if (!domain) throw new UsageError('--domain is required');
    await removeDomain(ctx, domain);
    return { data: { removed: domain }, text: `Removed ${domain}.\n` };
  },
  async 'domains verify'({ ctx, args, io }) {
    allowFlags(args, ['domain']);
    const domain = optionalString(args, 'domain') ?? args.positionals[2];
    if (!domain) throw new UsageError('--domain is required');
    const result = await verifyDomain(ctx, domain, io.resolveTxt);
    return { data: result, text: `${result.domain} is verified.\n` };
  },
  async 'connections set'({ ctx, args, argv, io }) {
    const type = requireString(args, 'type', 'local, google or oidc');
    const common = ['org', 'type'];
    const upstream = ['client-id', 'client-secret-stdin', 'issuer'];
    const oidc = [
      'scopes',
      'prompt',
      'entra-tenant-id',
      'claim-subject',
      'claim-email',
      'claim-name',
      'claim-groups',
    ];
    if (type === 'local') allowFlags(args, common);
    else if (type === 'google') allowFlags(args, [...common, ...upstream]);
    else if (type === 'oidc') allowFlags(args, [...common, ...upstream, ...oidc]);
    else
      throw new UsageError(
        '--type must be local, google or oidc (SAML connections are set in the configuration file)',
      );
    const organizationId = requireString(args, 'org', 'the organization id');
    const raw: { type: string } & Record<string, unknown> = { type };
    if (type !== 'local') {
      raw.client_id = requireString(args, 'client-id', 'the client id registered at the identity provider');
      const issuer = optionalString(args, 'issuer');
      if (issuer !== undefined) raw.issuer = issuer;
      else if (type === 'oidc')
        throw new UsageError('--issuer is required (the identity provider issuer URL)');
      if (booleanFlag(args, 'client-secret-stdin')) {
        const secret = await readSecret(io, 'Client secret: ');
        if (!secret) throw new UsageError('--client-secret-stdin: no secret on stdin');
        raw.client_secret = secret;
      } else if (type === 'google') {
        throw new UsageError('--client-secret-stdin is required: pipe the Google client secret into stdin');
      }
    }
    if (type === 'oidc') {
      const scopes = repeated(argv, 'scopes');
      if (scopes.length > 0) raw.scopes = scopes;
      const prompt = optionalString(args, 'prompt');
      if (prompt !== undefined) raw.prompt = prompt;
      const tenant = optionalString(args, 'entra-tenant-id');
      if (tenant !== undefined) raw.entra_tenant_id = tenant;
      const claims: Record<string, string> = {};
      for (const claim of ['subject', 'email', 'name', 'groups']) {
        const value = optionalString(args, `claim-${claim}`);
        if (value !== undefined) claims[claim] = value;
      }
      if (Object.keys(claims).length > 0) raw.claims = claims;
    }
    const result = await setConnection(ctx, organizationId, raw);
    return { data: result, text: `Organization ${organizationId} now signs in through ${type}.\n` };
  },

  // ---- SCIM provisioning tokens (docs/scim.md) ----
  async 'scim-tokens create'({ ctx, args }) {
    allowFlags(args, ['org', 'label']);
    const created = await createScimToken(ctx, {
      organizationId: requireString(args, 'org', 'the organization id'),
      label: optionalString(args, 'label'),
    });
    return {
      data: { ...created.summary, token: created.token, url: created.url },
      text:
        `Created SCIM token ${created.summary.id} for ${created.summary.organizationId}.\n` +
        `  Tenant URL / SCIM base URL: ${created.url}\n` +
        `  Secret token (shown only now): ${created.token}\n`,
    };
  },
  async 'scim-tokens list'({ ctx, args }) {
    allowFlags(args, ['org']);
    const tokens = await listScimTokens(ctx, { organizationId: optionalString(args, 'org') });
    return {
      data: tokens,
      text: table(
        ['id', 'organization', 'label', 'created', 'created by', 'last used', 'revoked'],
        tokens.map((t) => [
          t.id,
          t.organizationId,
          t.label,
          formatTime(t.createdAt),
          t.createdBy,
          formatTime(t.lastUsedAt),
          formatTime(t.revokedAt),
        ]),
      ),
    };
  },
  // ---- administrators ----
  async 'admins list'({ ctx, args }) {
    allowFlags(args, ['organization']);
    const admins = await listAdmins(ctx, { organizationId: optionalString(args, 'organization') });
    return {
      data: admins,
      text: table(
        ['email', 'role', 'organization', 'source', 'granted by', 'since'],
        admins.map((a) => [
          a.email,
          a.role === 'instance_admin' ? 'instance administrator' : 'organization administrator',
          a.organizationId,
          a.source,
          a.grantedBy,
          formatTime(a.createdAt),
        ]),
      ),
    };
  },
  async 'scim-tokens revoke'({ ctx, args }) {
    allowFlags(args, ['org', 'id']);
    const id = optionalString(args, 'id') ?? args.positionals[2];
    if (!id) throw new UsageError('--id is required (the token id from scim-tokens list)');
    const token = await revokeScimToken(ctx, { id, organizationId: optionalString(args, 'org') });
    return { data: token, text: `Revoked SCIM token ${token.id} of ${token.organizationId}.\n` };
  },
  async 'admins grant'({ ctx, args }) {
    allowFlags(args, ['user', 'email', 'organization']);
    const grant = await grantAdmin(ctx, {
      user: userArg(args),
      organizationId: optionalString(args, 'organization'),
    });
    return {
      data: grant,
      text: `${grant.email} is now ${grant.organizationId ? `an administrator of ${grant.organizationId}` : 'an instance administrator'}.\n`,
    };
  },
  async 'admins revoke'({ ctx, args }) {
    allowFlags(args, ['user', 'email', 'organization']);
    const target = userArg(args);
    const result = await revokeAdmin(ctx, {
      user: target,
      organizationId: optionalString(args, 'organization'),
    });
    return {
      data: result,
      text: `${target} is no longer ${result.organizationId ? `an administrator of ${result.organizationId}` : 'an instance administrator'}.\n`,
    };
  },

  // ---- audit ----
  async audit({ ctx, args }) {
    allowFlags(args, ['user', 'actor', 'since', 'limit', 'action']);
    const events = await listAudit(ctx, {
      user: optionalString(args, 'user'),
      actor: optionalString(args, 'actor'),
      since: sinceFlag(args, 'since'),
      limit: positiveInt(args, 'limit'),
      action: optionalString(args, 'action'),
    });
    return {
      data: events,
      text: table(
        ['time', 'action', 'outcome', 'actor', 'user', 'client', 'ip', 'details'],
        events.map((e) => [
          formatTime(e.at),
          e.action,
          e.outcome,
          e.actor,
          e.userEmail ?? e.userId,
          e.clientId,
          e.ip,
          Object.keys(e.details).length > 0 ? JSON.stringify(e.details) : '',
        ]),
      ),
    };
  },
};

/** `users add …` → the handler key; `audit` has no action word. */
export function adminCommandKey(positionals: readonly string[]): string {
  const [group, action] = positionals;
  if (group === 'audit') return 'audit';
  return `${group ?? ''} ${action ?? ''}`.trim();
}
