// Bundles acme-desktop into dist/bundle/ after `tsc -b` has built dist/: the window's thread
// (main.js) and the launch worker (early-worker.js), with their shared code in chunks. Node.js
// resolves, reads and compiles each module file of the app, the SDK and oauth4webapi separately;
// a few files start faster, on both threads. node-gtk and the keychain binding are native, and the
// QR-code library is only needed for the device flow: they load from node_modules when used.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  absWorkingDir: root,
  entryPoints: { main: 'dist/main.js', 'early-worker': 'dist/early-worker.js' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  external: ['node-gtk', '@napi-rs/keyring', 'qrcode'],
  sourcemap: 'linked',
  logLevel: 'warning',
});
