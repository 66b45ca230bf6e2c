import type { ListedAuditEvent } from '../../admin/audit.js';
import { AUDIT_ACTIONS } from '../../domain/audit-actions.js';
import { html, type SafeHtml } from '../../pages/html.js';
import { when } from '../layout.js';

/** Details as one short line (they are small objects of words and ids, never secrets). */
function detailsLine(details: Record<string, unknown>): string {
  const text = Object.entries(details)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

export function auditTable(events: ListedAuditEvent[]): SafeHtml {
  if (events.length === 0) return html`<p role="status">No events.</p>`;
  return html`<table><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Outcome</th><th scope="col">Actor</th><th scope="col">User</th><th scope="col">App</th><th scope="col">Address</th><th scope="col">Details</th></tr></thead>
<tbody>${events.map(
    (e) =>
      html`<tr><td>${when(e.at)}</td><td>${e.action}</td><td>${e.outcome}</td><td>${e.actor ?? ''}</td><td>${e.userId ? html`<a href="/admin/users/${encodeURIComponent(e.userId)}">${e.userEmail ?? e.userId}</a>` : ''}</td><td>${e.clientId ?? ''}</td><td>${e.ip ?? ''}</td><td><code>${detailsLine(e.details)}</code></td></tr>`,
  )}</tbody></table>`;
}

export interface AuditFilters {
  actor: string;
  user: string;
  action: string;
  since: string;
  until: string;
}

export function auditBody(input: {
  filters: AuditFilters;
  events: ListedAuditEvent[];
  nextHref: string | undefined;
}): SafeHtml {
  const f = input.filters;
  return html`<form class="search" method="get" action="/admin/audit" role="search" aria-label="Filter the audit log">
<div><label for="actor">Actor</label><input id="actor" name="actor" type="text" value="${f.actor}" aria-describedby="actor-help"></div>
<div><label for="user">User</label><input id="user" name="user" type="text" value="${f.user}" placeholder="email or id"></div>
<div><label for="action">Event</label><input id="action" name="action" type="text" list="actions" value="${f.action}"></div>
<datalist id="actions">${AUDIT_ACTIONS.map((a) => html`<option value="${a}"></option>`)}</datalist>
<div><label for="since">From (UTC)</label><input id="since" name="since" type="datetime-local" value="${f.since}"></div>
<div><label for="until">Until (UTC)</label><input id="until" name="until" type="datetime-local" value="${f.until}"></div>
<button type="submit">Filter</button>
</form>
<p id="actor-help" class="muted">Actor: an administrator’s email or user id, or <code>os:login</code> for the command line.</p>
${auditTable(input.events)}
${input.nextHref ? html`<nav class="pager" aria-label="Pages"><a href="${input.nextHref}">Older events</a></nav>` : ''}`;
}
