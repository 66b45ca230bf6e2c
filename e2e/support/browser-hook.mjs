#!/usr/bin/env node
// The `$BROWSER` of the e2e tests: instead of opening a browser, hands the URL to the test, which
// loads it in the Chromium it drives. Usage: BROWSER="node browser-hook.mjs" with
// E2E_BROWSER_HOOK=http://127.0.0.1:<port>/ set by the test.
const [url] = process.argv.slice(2);
const hook = process.env.E2E_BROWSER_HOOK;
if (!url || !hook) {
  process.stderr.write('browser-hook: needs a URL and E2E_BROWSER_HOOK\n');
  process.exit(2);
}
const response = await fetch(hook, { method: 'POST', body: url });
process.exit(response.ok ? 0 : 1);
