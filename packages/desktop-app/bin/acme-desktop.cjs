#!/usr/bin/env node
// CommonJS on purpose. node-gtk runs Node's event loop inside GLib's main loop only when that loop
// is entered from a top-level CommonJS body: entered from an ES module (a microtask) or from a timer
// callback (inside libuv), Node's timers and I/O stall. So the loop starts here, before the app's
// ES modules load, and everything else (GTK, fetch, the SDK) runs inside it. The app ends with
// process.exit(). GLib alone needs no display: the process the OS starts for a redirect URL, which
// forwards it and exits, never loads GTK.
const { enableCompileCache } = require('node:module');
const { existsSync, statSync } = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

enableCompileCache?.();
const gi = require('node-gtk');
const GLib = gi.require('GLib', '2.0');
const loop = new GLib.MainLoop(null, false);
// The bundle (scripts/bundle.mjs, part of `npm run build`) when it is newer than tsc's output.
const compiled = path.join(__dirname, '..', 'dist', 'main.js');
const bundled = path.join(__dirname, '..', 'dist', 'bundle', 'main.js');
const fresh = existsSync(bundled) && statSync(bundled).mtimeMs >= statSync(compiled).mtimeMs;
const entry = fresh ? bundled : compiled;
import(pathToFileURL(entry).href).catch((error) => {
  process.stderr.write(`acme-desktop: ${error?.stack ?? error}\n`);
  process.exit(1);
});
loop.run();
