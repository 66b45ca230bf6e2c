import { CONTENT_SECURITY_POLICY } from './security-headers.js';

/**
 * /assets/handoff.js: after the Launch / Continue click the page says what happens next ("Opening
 * Acme Desktop… you can close this tab") with the fallback link. For a private-use scheme the tab
 * stays where it is (the OS opens the app), so without this the page would look as if nothing
 * happened. The form is sent as usual; the script only changes what the page shows.
 *
 * Loopback redirects (RFC 8252 §7.3): the app waits for the redirect for a few minutes (the SDK:
 * 5), this page stays valid for an hour. Before the form is sent the script asks the app's loopback
 * address whether anything still listens (`fetch` with `mode: 'no-cors'`: an opaque answer when
 * something does, a TypeError when the connection is refused). Nobody there: the page says the app
 * is no longer waiting and to start again from the app, and sends nothing (no code is minted for a
 * receiver that is gone). Any other outcome (no answer within a few seconds) sends the form as usual.
 *
 * Chromium's Local Network Access decides when the probe may run: a page on a loopback address
 * reaches loopback freely; from any other address (a deployed Latchkey) the request needs the
 * person's permission, and asking would pop a prompt at the worst moment. So the probe runs only
 * where no prompt can appear: the page is on loopback, or the permission was already granted.
 * Elsewhere the page behaves as before (and the SDK's receiver is what answers the redirect).
 *
 * Private-use schemes give no signal at all (the OS hands the URL to the app, or starts it): the
 * page keeps its "Nothing happened? Try again" link, and an app that was closed finishes the sign-in
 * when the OS starts it with the URL (the SDK's cold start).
 */
export const handoffScript = `(function () {
  var button = document.getElementById('handoff');
  var opening = document.getElementById('handoff-opening');
  if (!button || !opening || !button.form) return;
  var form = button.form;
  var gone = document.getElementById('handoff-gone');
  var loopback = form.getAttribute('data-loopback');

  function show(panel) {
    var heading = document.querySelector('h1');
    if (heading) heading.textContent = panel.dataset.title;
    document.title = panel.dataset.title;
    form.hidden = true;
    panel.hidden = false;
  }

  // Whether asking the loopback address can happen without a permission prompt (see above).
  function mayProbe() {
    var host = location.hostname;
    if (host === '127.0.0.1' || host === '[::1]' || host === 'localhost') return Promise.resolve(true);
    if (!navigator.permissions || !navigator.permissions.query) return Promise.resolve(false);
    var names = ['loopback-network', 'local-network-access'];
    function next(i) {
      if (i >= names.length) return Promise.resolve(false);
      return navigator.permissions.query({ name: names[i] }).then(
        function (status) { return status.state === 'granted'; },
        function () { return next(i + 1); }
      );
    }
    return next(0);
  }

  // 'waiting' (something answered), 'gone' (connection refused) or 'unknown' (no answer in time).
  function probe(origin) {
    var controller = typeof AbortController === 'function' ? new AbortController() : undefined;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, 3000);
    return fetch(origin + '/', {
      mode: 'no-cors',
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      signal: controller ? controller.signal : undefined
    }).then(
      function () { return 'waiting'; },
      function (error) { return error && error.name === 'AbortError' ? 'unknown' : 'gone'; }
    ).then(function (answer) { clearTimeout(timer); return answer; });
  }

  var checking = false;
  var checked = false;
  form.addEventListener('submit', function (event) {
    if (!loopback || !gone || checked) {
      setTimeout(function () { show(opening); }, 150);
      return;
    }
    event.preventDefault();
    if (checking) return;
    checking = true;
    mayProbe()
      .then(function (allowed) { return allowed ? probe(loopback) : 'unknown'; })
      .then(function (answer) {
        checking = false;
        if (answer === 'gone') {
          show(gone);
          // "You will be returned to …" is no longer true.
          var explanation = document.getElementById('handoff-explanation');
          if (explanation) explanation.hidden = true;
          return;
        }
        checked = true;
        form.submit();
        setTimeout(function () { show(opening); }, 150);
      });
  });
})();
`;

/**
 * The launch page's Content Security Policy for a loopback redirect: the pages' policy, with the
 * app's one loopback origin (scheme, 127.0.0.1 or [::1], the port of this sign-in) added to
 * `connect-src` so that the probe above may reach it. Nothing else is added.
 */
export function handoffContentSecurityPolicy(loopbackOrigin: string): string {
  return CONTENT_SECURITY_POLICY.replace("connect-src 'self'", `connect-src 'self' ${loopbackOrigin}`);
}

/** The origin of a loopback redirect URI (`http://127.0.0.1:<port>`), or undefined for any other URI. */
export function loopbackOriginOf(redirectUri: string | undefined): string | undefined {
  if (!redirectUri) return undefined;
  try {
    const url = new URL(redirectUri);
    if (url.protocol !== 'http:' || (url.hostname !== '127.0.0.1' && url.hostname !== '[::1]'))
      return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}
