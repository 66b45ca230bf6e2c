// Bundles latchkey-desktop into one file (dist/latchkey-desktop.js) after `tsc -b` has built
// dist/main.js. A command lives well under a second and Node.js resolves, reads and compiles each
// module file of the SDK and oauth4webapi separately; one file measured ~40 ms less per start.
// The keychain binding is native and the QR-code library is only needed for the device flow, so both
// stay outside the bundle and load from node_modules when used.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  absWorkingDir: root,
  entryPoints: ['dist/main.js'],
  outfile: 'dist/latchkey-desktop.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  external: ['@napi-rs/keyring', 'qrcode'],
  sourcemap: 'linked',
  logLevel: 'warning',
});
