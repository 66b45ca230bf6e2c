/**
 * /assets/passkey.js: the only script on Latchkey's pages, because WebAuthn has no form-based
 * equivalent. It enhances buttons marked `data-passkey` (shown only when the browser supports
 * WebAuthn; they start `hidden` so pages without JavaScript never offer them):
 *   data-action  where to POST; options come from `<action>/options` (JSON), the result goes to
 *                `<action>` as an ordinary form post (so the server answers with a page or a redirect)
 *   data-csrf    the page's CSRF token, sent with both requests
 *   data-mode    `get` (sign in, default) or `create` (register a passkey)
 * Errors are written into the page's `[role=alert]` region, which screen readers announce.
 * Served from our origin: the CSP allows 'self' scripts only, nothing inline.
 */
export const passkeyScript = `(() => {
  'use strict';
  const b64 = {
    decode(value) {
      const s = value.replace(/-/g, '+').replace(/_/g, '/');
      const bin = atob(s + '='.repeat((4 - (s.length % 4)) % 4));
      const out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
      return out.buffer;
    },
    encode(buffer) {
      const bytes = new Uint8Array(buffer);
      let bin = '';
      for (const b of bytes) bin += String.fromCharCode(b);
      return btoa(bin).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
    },
  };
  const creationOptions = (o) => ({
    ...o,
    challenge: b64.decode(o.challenge),
    user: { ...o.user, id: b64.decode(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: b64.decode(c.id) })),
  });
  const requestOptions = (o) => ({
    ...o,
    challenge: b64.decode(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: b64.decode(c.id) })),
  });
  const toJSON = (cred) => {
    const r = cred.response;
    const response = { clientDataJSON: b64.encode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = b64.encode(r.attestationObject);
      if (r.getTransports) response.transports = r.getTransports();
      if (r.getAuthenticatorData) response.authenticatorData = b64.encode(r.getAuthenticatorData());
      if (r.getPublicKeyAlgorithm) response.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
    } else {
      response.authenticatorData = b64.encode(r.authenticatorData);
      response.signature = b64.encode(r.signature);
      if (r.userHandle) response.userHandle = b64.encode(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: b64.encode(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response,
    };
  };
  const post = (action, fields) => {
    const form = document.createElement('form');
    form.method = 'post';
    form.action = action;
    for (const [name, value] of Object.entries(fields)) {
      const input = document.createElement('input');
      input.type = 'hidden';
      input.name = name;
      input.value = value;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
  };
  const say = (button, text) => {
    const region = document.querySelector('[role=alert]');
    if (region) region.textContent = text;
    else button.setAttribute('title', text);
  };
  if (!window.PublicKeyCredential || !navigator.credentials) {
    for (const note of document.querySelectorAll('[data-passkey-nojs]')) note.hidden = false;
    return;
  }
  for (const note of document.querySelectorAll('[data-passkey-nojs]')) note.hidden = true;
  for (const button of document.querySelectorAll('[data-passkey], #passkey-signin')) {
    button.hidden = false;
    button.addEventListener('click', async () => {
      const action = button.dataset.action;
      const csrf = button.dataset.csrf;
      const mode = button.dataset.mode || 'get';
      button.disabled = true;
      try {
        const res = await fetch(action + '/options', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ _csrf: csrf }),
          credentials: 'same-origin',
        });
        if (!res.ok) throw new Error('options ' + res.status);
        const { options, state } = await res.json();
        const cred =
          mode === 'create'
            ? await navigator.credentials.create({ publicKey: creationOptions(options) })
            : await navigator.credentials.get({ publicKey: requestOptions(options) });
        post(action, { _csrf: csrf, response: JSON.stringify(toJSON(cred)), state: state || '' });
      } catch (error) {
        button.disabled = false;
        say(button, button.dataset.failed || String(error && error.message));
      }
    });
  }
})();
`;
