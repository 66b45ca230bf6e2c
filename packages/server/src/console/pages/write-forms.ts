import type { AdminGrant } from '../../admin/admins.js';
import type { ClientSummary } from '../../admin/clients.js';
import type { DomainSummary, OrganizationSummary } from '../../admin/organizations.js';
import { html, type SafeHtml } from '../../pages/html.js';
import { csrfField, when } from '../layout.js';

/**
 * The console's write forms. Each posts to a console action that runs the admin API operation of
 * the same name (routes/*.ts); the forms only collect the operation's fields.
 */
const orgPath = (id: string) => `/admin/organizations/${encodeURIComponent(id)}`;

const post = (csrf: string, action: string, label: string, danger = false) =>
  html`<form method="post" action="${action}">${csrfField(csrf)}<button type="submit"${danger ? html` class="danger"` : ''}>${label}</button></form>`;

export function addOrganizationForm(csrf: string): SafeHtml {
  return html`<h2 id="add-org">Add an organization</h2>
<p class="muted">An organization with local accounts; give it a single sign-on connection on its page.</p>
<form class="search" method="post" action="/admin/organizations" aria-labelledby="add-org">${csrfField(csrf)}
<div><label for="org-id">Id</label><input id="org-id" name="id" type="text" required></div>
<div><label for="org-name">Name</label><input id="org-name" name="name" type="text" required></div>
<div><label for="org-domains">Domains (comma-separated, verified at once)</label><input id="org-domains" name="domains" type="text"></div>
<button type="submit">Add organization</button>
</form>`;
}

/** The stored policy under the configuration file's keys, which the policy operation takes. */
function policyAsFile(p: OrganizationSummary['policy']): Record<string, unknown> {
  return {
    require_2sv: p.require2sv,
    allowed_clients: p.allowedClients,
    jit_provisioning: p.jitProvisioning,
    refresh_idle_ttl: p.refreshIdleTtl,
    refresh_absolute_ttl: p.refreshAbsoluteTtl,
    max_upstream_age: p.maxUpstreamAge,
    upstream_revalidate_interval: p.upstreamRevalidateInterval,
    accept_identities: p.acceptIdentities ?? 'organization_domains',
  };
}

/** The organization page's forms; `instance`: the caller may change policy and remove it. */
export function organizationForms(input: {
  org: OrganizationSummary;
  domains: DomainSummary[];
  connection: { type: string; settings: Record<string, unknown> };
  csrf: string;
  instance: boolean;
}): SafeHtml {
  const { org, csrf } = input;
  const base = orgPath(org.id);
  const policy = JSON.stringify(policyAsFile(org.policy), null, 2);
  const connection = JSON.stringify({ type: input.connection.type, ...input.connection.settings }, null, 2);
  return html`<h2 id="domain-actions">Domain actions</h2>
${
  input.domains.length === 0
    ? ''
    : html`<ul class="plain">${input.domains.map(
        (d) =>
          html`<li><span>${d.domain}</span> <span class="actions">${d.verified ? '' : post(csrf, `${base}/domains/${encodeURIComponent(d.domain)}/verify`, `Verify ${d.domain} now`)}${post(csrf, `${base}/domains/${encodeURIComponent(d.domain)}/remove`, `Remove ${d.domain}…`, true)}</span></li>`,
      )}</ul>`
}
<form class="search" method="post" action="${base}/domains" aria-labelledby="domain-actions">${csrfField(csrf)}
<div><label for="domain">Domain to add</label><input id="domain" name="domain" type="text" required></div>
${input.instance ? html`<div><label for="verify"><input id="verify" name="verify" type="checkbox" value="yes"> Verify by DNS TXT record (else vouched for at once)</label></div>` : ''}
<button type="submit">Add domain</button>
</form>
${
  input.instance
    ? html`<h2 id="policy-form">Change the policy</h2>
<p class="muted">The configuration file's policy keys, as JSON; omitted keys take their defaults.</p>
<form method="post" action="${base}/policy" aria-labelledby="policy-form">${csrfField(csrf)}
<label for="policy">Policy (JSON)</label><textarea id="policy" name="policy" rows="8" cols="60">${policy}</textarea>
<button type="submit">Save policy</button>
</form>`
    : ''
}
<h2 id="connection-form">Change the connection</h2>
<p class="muted">The configuration file's connection keys, as JSON (<code>type</code>: local, oidc or saml). A secret is never shown: type it again when you change an OIDC connection.</p>
<form method="post" action="${base}/connection" aria-labelledby="connection-form">${csrfField(csrf)}
<label for="connection">Connection (JSON)</label><textarea id="connection" name="connection" rows="8" cols="60">${connection}</textarea>
<button type="submit">Save connection</button>
</form>
${input.instance ? html`<h2>Remove</h2><div class="actions">${post(csrf, `${base}/remove`, 'Remove this organization…', true)}</div>` : ''}`;
}

export function addUserForm(csrf: string, organizations: OrganizationSummary[]): SafeHtml {
  return html`<h2 id="add-user">Add a user</h2>
<form class="search" method="post" action="/admin/users" aria-labelledby="add-user">${csrfField(csrf)}
<div><label for="new-email">Email</label><input id="new-email" name="email" type="email" required></div>
<div><label for="new-name">Name</label><input id="new-name" name="name" type="text"></div>
<div><label for="new-org">Organization</label><select id="new-org" name="organization"><option value="">The one owning the email's domain</option>${organizations.map((o) => html`<option value="${o.id}">${o.name}</option>`)}</select></div>
<div><label for="new-password">Password (local accounts; optional)</label><input id="new-password" name="password" type="password" autocomplete="new-password"></div>
<button type="submit">Add user</button>
</form>`;
}

export function setPasswordForm(csrf: string, userId: string): SafeHtml {
  return html`<h2 id="set-password">Set a password</h2>
<p class="muted">Signs the user out everywhere.</p>
<form class="search" method="post" action="/admin/users/${encodeURIComponent(userId)}/password" aria-labelledby="set-password">${csrfField(csrf)}
<div><label for="password">New password</label><input id="password" name="password" type="password" autocomplete="new-password" required></div>
<button type="submit">Set password</button>
</form>`;
}

export function appForms(csrf: string, clients: ClientSummary[]): SafeHtml {
  const removable = clients.filter((c) => c.source !== 'config');
  return html`${
    removable.length === 0
      ? ''
      : html`<h2>Remove an app</h2><ul class="plain">${removable.map(
          (c) =>
            html`<li>${post(csrf, `/admin/apps/${encodeURIComponent(c.id)}/remove`, `Remove ${c.name}…`, true)}</li>`,
        )}</ul>`
  }
<h2 id="add-app">Add an app</h2>
<form method="post" action="/admin/apps" aria-labelledby="add-app">${csrfField(csrf)}
<div><label for="app-id">Client id</label><input id="app-id" name="id" type="text" required></div>
<div><label for="app-name">Name</label><input id="app-name" name="name" type="text"></div>
<div><label for="app-kind">Kind</label><select id="app-kind" name="kind"><option value="native">native (desktop)</option><option value="web">web</option></select></div>
<div><label for="app-redirects">Redirect URIs (one a line)</label><textarea id="app-redirects" name="redirect_uris" rows="3" cols="60" required></textarea></div>
<div><label for="app-device"><input id="app-device" name="device_flow" type="checkbox" value="yes"> Device flow</label></div>
<div><label for="app-secret">Secret (web apps only)</label><input id="app-secret" name="secret" type="password" autocomplete="off"></div>
<button type="submit">Add app</button>
</form>`;
}

export function administratorsBody(
  csrf: string,
  admins: AdminGrant[],
  orgs: OrganizationSummary[],
): SafeHtml {
  return html`<table><thead><tr><th scope="col">Administrator</th><th scope="col">Role</th><th scope="col">Declared in</th><th scope="col">Action</th></tr></thead>
<tbody>${admins.map((a) => {
    const role = a.organizationId ? `administrator of ${a.organizationId}` : 'instance administrator';
    const action = `/admin/administrators/${encodeURIComponent(a.userId)}/revoke${a.organizationId ? `?organization=${encodeURIComponent(a.organizationId)}` : ''}`;
    return html`<tr><td>${a.email ?? a.userId}</td><td>${role}</td><td>${a.source === 'config' ? 'configuration file' : 'console, API or CLI'}</td><td>${a.source === 'config' ? 'change the file' : post(csrf, action, `Revoke ${a.email ?? a.userId} (${role})…`, true)}</td></tr>`;
  })}</tbody></table>
<h2 id="grant">Grant a role</h2>
<form class="search" method="post" action="/admin/administrators" aria-labelledby="grant">${csrfField(csrf)}
<div><label for="grant-user">User (email or id)</label><input id="grant-user" name="user" type="text" required></div>
<div><label for="grant-org">Role</label><select id="grant-org" name="organization"><option value="">Instance administrator</option>${orgs.map((o) => html`<option value="${o.id}">Administrator of ${o.name}</option>`)}</select></div>
<button type="submit">Grant</button>
</form>`;
}

export interface ScimTokenView {
  id: string;
  label: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/**
 * SCIM provisioning (docs/scim.md): the URL to paste into Entra ID or Okta, the organization's
 * tokens (never their values), a form to make one, and — right after making it — its value, the one
 * time it is shown.
 */
export function scimSection(input: {
  organizationId: string;
  url: string;
  tokens: ScimTokenView[];
  csrf: string;
  created?: { token: string; label: string | null } | undefined;
}): SafeHtml {
  const base = `${orgPath(input.organizationId)}/scim-tokens`;
  const live = input.tokens.filter((t) => t.revokedAt === null);
  return html`<h2 id="scim">SCIM provisioning</h2>
<p class="muted">Tenant URL (Entra ID) / SCIM connector base URL (Okta): <code>${input.url}</code></p>
${
  input.created
    ? html`<div class="notice" role="status"><p>New SCIM token${input.created.label ? html` “${input.created.label}”` : ''}. Copy it into your directory's provisioning settings now: it is not shown again.</p>
<p><label for="scim-token-value">Token</label> <input id="scim-token-value" type="text" readonly value="${input.created.token}" size="60"></p></div>`
    : ''
}
${
  live.length === 0
    ? html`<p>No SCIM token yet.</p>`
    : html`<table><caption>SCIM tokens</caption><thead><tr><th scope="col">Label</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Actions</th></tr></thead>
<tbody>${live.map((t) => html`<tr><td>${t.label ?? '(no label)'}</td><td>${when(t.createdAt)}</td><td>${when(t.lastUsedAt)}</td><td>${post(input.csrf, `${base}/${encodeURIComponent(t.id)}/revoke`, `Revoke ${t.label ?? 'token'}…`, true)}</td></tr>`)}</tbody></table>`
}
<form class="search" method="post" action="${base}" aria-labelledby="scim">${csrfField(input.csrf)}
<div><label for="scim-label">Label (where it is used)</label><input id="scim-label" name="label" type="text" maxlength="100"></div>
<button type="submit">Make a SCIM token</button>
</form>`;
}
