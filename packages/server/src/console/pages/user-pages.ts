import type { ListedAuditEvent } from '../../admin/audit.js';
import type { OrganizationSummary } from '../../admin/organizations.js';
import type { UserDetails, UserSummary } from '../../admin/users.js';
import type { SessionListing } from '../../domain/session-list.js';
import { html, type SafeHtml } from '../../pages/html.js';
import { csrfField, when } from '../layout.js';
import { auditTable } from './audit-page.js';

const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`;

export function statusBadge(status: 'active' | 'disabled'): SafeHtml {
  return html`<span class="badge ${status === 'active' ? 'ok' : 'bad'}">${status}</span>`;
}

export interface UserSearchInput {
  q: string;
  status: string;
  organization: string;
  organizations: OrganizationSummary[];
  users: UserSummary[];
  /** The query string of the next page, if there is one. */
  nextHref: string | undefined;
}

export function userSearchBody(input: UserSearchInput): SafeHtml {
  const option = (value: string, label: string, selected: string) =>
    html`<option value="${value}"${value === selected ? html` selected` : ''}>${label}</option>`;
  return html`<form class="search" method="get" action="/admin/users" role="search" aria-label="Search users">
<div><label for="q">Email or name</label><input id="q" name="q" type="search" value="${input.q}"></div>
<div><label for="status">Status</label><select id="status" name="status">${option('', 'Any', input.status)}${option('active', 'Active', input.status)}${option('disabled', 'Disabled', input.status)}</select></div>
<div><label for="organization">Organization</label><select id="organization" name="organization">${option('', 'Any', input.organization)}${input.organizations.map((o) => option(o.id, o.name, input.organization))}</select></div>
<button type="submit">Search</button>
</form>
${
  input.users.length === 0
    ? html`<p role="status">No users match.</p>`
    : html`<table><caption class="muted">Users, newest first</caption>
<thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Organization</th><th scope="col">Status</th><th scope="col">Last sign-in</th></tr></thead>
<tbody>${input.users.map(
        (u) =>
          html`<tr><td><a href="${userPath(u.id)}">${u.email ?? u.id}</a></td><td>${u.name ?? ''}</td><td>${u.organizationId}</td><td>${statusBadge(u.status)}</td><td>${when(u.lastSignInAt)}</td></tr>`,
      )}</tbody></table>`
}
${input.nextHref ? html`<nav class="pager" aria-label="Pages"><a href="${input.nextHref}">Next page</a></nav>` : ''}`;
}

export interface UserPageInput {
  user: UserDetails;
  sessions: SessionListing;
  audit: ListedAuditEvent[];
  csrf: string;
  /** The organization signs in upstream (Google, OIDC, SAML): no password or 2-step here to reset. */
  upstream: boolean;
}

/** One POST button; destructive ones lead to a confirmation page first (actions.ts). */
function actionButton(csrf: string, action: string, label: string, danger = false): SafeHtml {
  return html`<form method="post" action="${action}">${csrfField(csrf)}<button type="submit"${danger ? html` class="danger"` : html` class="secondary"`}>${label}</button></form>`;
}

export function userBody(input: UserPageInput): SafeHtml {
  const { user, csrf } = input;
  const base = userPath(user.id);
  const c = user.credentials;
  const twoStep = [
    c.totp ? 'authenticator app' : '',
    c.passkeys.length ? `${c.passkeys.length} passkey${c.passkeys.length > 1 ? 's' : ''}` : '',
    c.recoveryCodesLeft ? `${c.recoveryCodesLeft} recovery codes left` : '',
  ].filter(Boolean);
  return html`<dl class="facts">
<dt>Email</dt><dd>${user.email ?? '—'}</dd>
<dt>Name</dt><dd>${user.name ?? '—'}</dd>
<dt>Organization</dt><dd>${user.organizationId}</dd>
<dt>Status</dt><dd>${statusBadge(user.status)}</dd>
<dt>Created</dt><dd>${when(user.createdAt)}</dd>
<dt>Last sign-in</dt><dd>${when(user.lastSignInAt)}</dd>
<dt>Password</dt><dd>${c.password ? 'set' : 'none'}</dd>
<dt>2-step methods</dt><dd>${twoStep.length ? twoStep.join(', ') : 'none'}</dd>
</dl>
<h2>Actions</h2>
<div class="actions">
${user.status === 'active' ? actionButton(csrf, `${base}/disable`, 'Disable user…', true) : actionButton(csrf, `${base}/enable`, 'Enable user')}
${actionButton(csrf, `${base}/revoke-all`, 'Revoke everything…', true)}
${input.upstream ? '' : actionButton(csrf, `${base}/reset-2sv`, 'Reset 2-step verification…', true)}
${input.upstream ? '' : actionButton(csrf, `${base}/reset-link`, 'Create a password reset link')}
${actionButton(csrf, `${base}/clear-throttle`, 'Clear sign-in throttle')}
</div>
<h2>Identities</h2>
${
  user.identities.length === 0
    ? html`<p>No upstream identities (a local account).</p>`
    : html`<table><thead><tr><th scope="col">Connection</th><th scope="col">Subject</th><th scope="col">Email</th><th scope="col">Last sign-in there</th></tr></thead>
<tbody>${user.identities.map((i) => html`<tr><td>${i.connectionId}</td><td><code>${i.subject}</code></td><td>${i.email ?? ''}</td><td>${when(i.lastAuthenticatedAt)}</td></tr>`)}</tbody></table>`
}
<h2>Signed-in apps</h2>
${
  input.sessions.apps.length === 0
    ? html`<p>No app holds a sign-in.</p>`
    : html`<table><thead><tr><th scope="col">App</th><th scope="col">Device</th><th scope="col">Address</th><th scope="col">Signed in</th><th scope="col">Last used</th><th scope="col">Action</th></tr></thead>
<tbody>${input.sessions.apps.map(
        (a) =>
          html`<tr><td>${a.app}</td><td>${a.device}</td><td>${a.ip ?? ''}</td><td>${when(a.createdAt)}</td><td>${when(a.lastUsedAt)}</td><td><form method="post" action="${base}/sessions/${encodeURIComponent(a.grantId)}/revoke">${csrfField(csrf)}<button type="submit" class="small secondary" aria-label="Sign ${a.app} out on ${a.device}">Sign out…</button></form></td></tr>`,
      )}</tbody></table>`
}
<h2>Browser sessions</h2>
${
  input.sessions.browsers.length === 0
    ? html`<p>No browser session.</p>`
    : html`<table><thead><tr><th scope="col">Device</th><th scope="col">Address</th><th scope="col">Apps</th><th scope="col">Started</th><th scope="col">Last used</th><th scope="col">Action</th></tr></thead>
<tbody>${input.sessions.browsers.map(
        (b) =>
          html`<tr><td>${b.device}</td><td>${b.ip ?? ''}</td><td>${b.apps.map((a) => a.app).join(', ')}</td><td>${when(b.createdAt)}</td><td>${when(b.lastUsedAt)}</td><td><form method="post" action="${base}/sessions/${encodeURIComponent(b.id)}/revoke">${csrfField(csrf)}<button type="submit" class="small secondary" aria-label="End the browser session on ${b.device}">End…</button></form></td></tr>`,
      )}</tbody></table>`
}
<h2>Audit trail</h2>
${auditTable(input.audit)}
<p><a href="/admin/users">Back to users</a></p>`;
}

/** The confirmation step of a destructive action: what will happen, then the same POST with `confirmed`. */
export function confirmBody(input: {
  action: string;
  csrf: string;
  consequence: string;
  button: string;
  cancelHref: string;
}): SafeHtml {
  return html`<p>${input.consequence}</p>
<form method="post" action="${input.action}">${csrfField(input.csrf)}<input type="hidden" name="confirmed" value="yes">
<div class="actions"><button type="submit" class="danger">${input.button}</button><a class="button secondary" href="${input.cancelHref}">Cancel</a></div>
</form>`;
}

export function resetLinkBody(user: UserSummary, url: string, expiresAt: number): SafeHtml {
  return html`<p>Give this one-time link to ${user.email ?? user.id} through a channel you trust. It works once, until ${when(expiresAt)}.</p>
<p><label for="reset-link">Reset link</label><input id="reset-link" type="text" readonly value="${url}"></p>
<p><a href="${userPath(user.id)}">Back to ${user.email ?? 'the user'}</a></p>`;
}
