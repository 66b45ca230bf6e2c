// Bundles latchkey-desktop into one file (dist/latchkey-desktop.cjs) after `tsc -b` has built
// dist/main.js. A command lives well under a second and Node.js resolves, reads and compiles each
// module file of the SDK and oauth4webapi separately; one file measured ~40 ms less per start.
//
// CommonJS, not ESM, and every `import()` turned into `require()`: a process that never touches
// Node's ESM loader skips its start-up (the loader itself, the CommonJS lexer that gives an ESM
// import of a CommonJS package its named exports, asynchronous resolution). Measured on the silent
// sign-in (`latchkey-desktop token`, bench/run.mjs --only sdk --sdk-runs 11, three runs each,
// alternating): 119–129 ms as an ESM bundle, 111–113 ms as this one.
//
// The keychain binding is native and the QR-code library is only needed for the device flow, so both
// stay outside the bundle and load from node_modules when used.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  absWorkingDir: root,
  entryPoints: ['dist/main.js'],
  outfile: 'dist/latchkey-desktop.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // esbuild keeps `import()` of an external package in CommonJS output unless told it is unsupported.
  supported: { 'dynamic-import': false },
  target: 'node20.19',
  external: ['@napi-rs/keyring', 'qrcode'],
  sourcemap: 'linked',
  logLevel: 'warning',
});
