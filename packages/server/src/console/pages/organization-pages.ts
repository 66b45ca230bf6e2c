import type { DomainSummary, OrganizationSummary } from '../../admin/organizations.js';
import { html, type SafeHtml } from '../../pages/html.js';
import { csrfField } from '../layout.js';

const orgPath = (id: string) => `/admin/organizations/${encodeURIComponent(id)}`;

export interface ConnectionView {
  type: string;
  settings: Record<string, unknown>;
  hasSecret: boolean;
  samlMetadataUrl?: string | undefined;
}

export interface ConnectionTestView {
  ok: boolean;
  checks: { check: string; ok: boolean; message: string }[];
}

export function organizationsBody(orgs: OrganizationSummary[]): SafeHtml {
  if (orgs.length === 0) return html`<p role="status">No organizations.</p>`;
  return html`<table><thead><tr><th scope="col">Organization</th><th scope="col">Id</th><th scope="col">Connection</th><th scope="col">Domains</th><th scope="col">Declared in</th></tr></thead>
<tbody>${orgs.map(
    (o) =>
      html`<tr><td><a href="${orgPath(o.id)}">${o.name}</a></td><td><code>${o.id}</code></td><td>${o.connection}</td><td>${o.domains.map((d) => d.domain).join(', ')}</td><td>${o.source === 'config' ? 'configuration file' : 'console, API or CLI'}</td></tr>`,
  )}</tbody></table>`;
}

function value(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

export function organizationBody(input: {
  org: OrganizationSummary;
  domains: DomainSummary[];
  connection: ConnectionView;
  csrf: string;
  test?: ConnectionTestView | undefined;
}): SafeHtml {
  const { org, connection } = input;
  return html`<dl class="facts"><dt>Id</dt><dd><code>${org.id}</code></dd><dt>Declared in</dt><dd>${org.source === 'config' ? 'the configuration file (change it there)' : 'the console, API or CLI'}</dd></dl>
<h2>Policy</h2>
<table><thead><tr><th scope="col">Setting</th><th scope="col">Value</th></tr></thead>
<tbody>${Object.entries(org.policy).map(([k, v]) => html`<tr><td>${k}</td><td><code>${value(v)}</code></td></tr>`)}</tbody></table>
<h2>Domains</h2>
${
  input.domains.length === 0
    ? html`<p>No domains.</p>`
    : html`<table><thead><tr><th scope="col">Domain</th><th scope="col">Verification</th><th scope="col">DNS TXT record to publish</th></tr></thead>
<tbody>${input.domains.map(
        (d) =>
          html`<tr><td>${d.domain}</td><td><span class="badge ${d.verified ? 'ok' : 'bad'}">${d.verified ? 'verified' : 'not verified'}</span></td><td>${d.txtRecord ? html`<code>${d.txtRecord}</code>` : '—'}</td></tr>`,
      )}</tbody></table>`
}
<h2>Connection</h2>
<dl class="facts"><dt>Type</dt><dd>${connection.type}</dd>
${Object.entries(connection.settings).map(([k, v]) => html`<dt>${k}</dt><dd><code>${value(v)}</code></dd>`)}
<dt>Secret</dt><dd>${connection.hasSecret ? 'set (never shown)' : 'none'}</dd></dl>
<div class="actions">
<form method="post" action="${orgPath(org.id)}/test-connection">${csrfField(input.csrf)}<button type="submit">Test connection</button></form>
${connection.samlMetadataUrl ? html`<a class="button secondary" href="${connection.samlMetadataUrl}" download="${org.id}-sp-metadata.xml">Download SAML SP metadata</a>` : ''}
</div>
${input.test ? testResult(input.test) : ''}
<p><a href="/admin/organizations">Back to organizations</a></p>`;
}

function testResult(test: ConnectionTestView): SafeHtml {
  return html`<section aria-labelledby="test-heading"><h2 id="test-heading">Connection test: ${test.ok ? 'everything answered' : 'something is wrong'}</h2>
<div role="status" class="alert ${test.ok ? 'info' : 'error'}">${test.ok ? 'The connection works.' : 'The connection does not work yet; see the failed checks below.'}</div>
<table><thead><tr><th scope="col">Check</th><th scope="col">Result</th><th scope="col">What we saw</th></tr></thead>
<tbody>${test.checks.map(
    (c) =>
      html`<tr><td>${c.check}</td><td><span class="badge ${c.ok ? 'ok' : 'bad'}">${c.ok ? 'passed' : 'failed'}</span></td><td>${c.message}</td></tr>`,
  )}</tbody></table></section>`;
}
