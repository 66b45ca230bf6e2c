import type { ClientSummary } from '../../admin/clients.js';
import type { KeySummary } from '../../admin/keys.js';
import { html, type SafeHtml } from '../../pages/html.js';
import { csrfField, when } from '../layout.js';

export function appsBody(clients: ClientSummary[]): SafeHtml {
  return html`<p class="muted">Apps come from the configuration file (change them there) or are added here, with <code>latchkey admin clients</code> or the admin API.</p>
<table><thead><tr><th scope="col">App</th><th scope="col">Client id</th><th scope="col">Kind</th><th scope="col">Redirect URIs</th><th scope="col">Device flow</th><th scope="col">Declared in</th></tr></thead>
<tbody>${clients.map(
    (c) =>
      html`<tr><td>${c.name}</td><td><code>${c.id}</code></td><td>${c.kind}</td><td>${c.redirectUris.map((u) => html`<code>${u}</code><br>`)}</td><td>${c.deviceFlow ? 'yes' : 'no'}</td><td>${c.source}</td></tr>`,
  )}</tbody></table>`;
}

export function keysBody(keys: KeySummary[], csrf: string): SafeHtml {
  return html`<table><thead><tr><th scope="col">Key id</th><th scope="col">Use</th><th scope="col">Algorithm</th><th scope="col">State</th><th scope="col">Signs from</th><th scope="col">Retires</th><th scope="col">Removed</th></tr></thead>
<tbody>${keys.map(
    (k) =>
      html`<tr><td><code>${k.kid}</code></td><td>${k.use === 'sig' ? 'token signing' : 'cookies'}</td><td>${k.alg}</td><td><span class="badge${k.state === 'active' ? ' ok' : ''}">${k.state}</span></td><td>${when(k.activatesAt)}</td><td>${when(k.retiresAt)}</td><td>${when(k.expiresAt)}</td></tr>`,
  )}</tbody></table>
<h2>Rotate</h2>
<p>New keys are published at once and start signing after the activation delay, so every app and server has fetched them first; the old keys keep verifying for a while after that.</p>
<form class="search" method="post" action="/admin/keys/rotate">${csrfField(csrf)}
<div><label for="activate_in">Activation delay</label><input id="activate_in" name="activate_in" type="text" value="10m" aria-describedby="duration-help"></div>
<div><label for="keep_old_for">Keep old keys for</label><input id="keep_old_for" name="keep_old_for" type="text" value="1d" aria-describedby="duration-help"></div>
<button type="submit">Rotate keys</button>
</form>
<p id="duration-help" class="muted">Durations: seconds, or e.g. 10m, 1h, 1d.</p>`;
}
