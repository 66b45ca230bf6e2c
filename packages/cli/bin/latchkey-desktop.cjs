#!/usr/bin/env node
'use strict';
// CommonJS on purpose, like the bundle it runs (scripts/bundle.mjs): a command that never starts
// Node's ESM loader is ready sooner. The whole command is one file: one read and one compile.
const Module = require('node:module');
const path = require('node:path');

const bundle = path.join(__dirname, '..', 'dist', 'latchkey-desktop.cjs');

if (typeof Module.enableCompileCache === 'function' || process.env.LATCHKEY_CODE_CACHE === 'off') {
  // Node 22.1+ keeps compiled code on disk between runs itself (NODE_COMPILE_CACHE to place it).
  Module.enableCompileCache?.();
  require(bundle);
} else {
  runWithCodeCache(bundle);
}

/**
 * Node 20 has no compile cache of its own: V8 compiling the ~220 KB bundle is ~4 ms of every start.
 * Here the bundle runs from a vm.Script with V8's code cache, kept per user next to the SDK's other
 * caches (`LATCHKEY_CODE_CACHE=<directory>` to move it, `off` to go without). V8 checks that a cache
 * was made by the same V8 with the same flags for a source of the same length and rejects it
 * otherwise; it cannot tell two sources of the same length apart, so the file name carries a hash of
 * the source, the Node.js version, the architecture and the V8 flags. A missing, rejected or
 * unreadable cache only costs the compile; the cache is written (atomically: a temporary file renamed)
 * when the command exits, with the functions that ran compiled in.
 */
function runWithCodeCache(file) {
  const fs = require('node:fs');
  const vm = require('node:vm');
  const crypto = require('node:crypto');
  const source = fs.readFileSync(file, 'utf8');
  const id = crypto
    .createHash('sha256')
    .update([process.version, process.arch, process.execArgv.join(' '), source].join('\0'))
    .digest('hex')
    .slice(0, 16);
  const dir = process.env.LATCHKEY_CODE_CACHE || path.join(defaultCacheDir(), 'code-cache');
  const cacheFile = path.join(dir, `latchkey-desktop-${id}.bin`);
  let cachedData;
  try {
    cachedData = readOwnFile(fs, cacheFile);
  } catch {}
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const accepted = cachedData !== undefined && !script.cachedDataRejected;
  if (process.env.LATCHKEY_CODE_CACHE_DEBUG)
    process.stderr.write(
      `code cache ${cachedData === undefined ? 'absent' : accepted ? 'used' : 'rejected'}: ${cacheFile}\n`,
    );
  if (!accepted) {
    process.once('exit', () => {
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        const temporary = `${cacheFile}.${process.pid}.tmp`;
        fs.writeFileSync(temporary, script.createCachedData(), { mode: 0o600 });
        fs.renameSync(temporary, cacheFile);
        // Caches of other builds of the bundle (an older version, another Node.js) are dropped.
        for (const name of fs.readdirSync(dir)) {
          if (/^latchkey-desktop-[0-9a-f]{16}\.bin$/.test(name) && name !== path.basename(cacheFile))
            fs.rmSync(path.join(dir, name), { force: true });
        }
      } catch {}
    });
  }
  const compiled = script.runInThisContext();
  const bundleModule = new Module(file, module);
  bundleModule.filename = file;
  bundleModule.paths = Module._nodeModulePaths(path.dirname(file));
  bundleModule.loaded = true;
  const bundleRequire = Module.createRequire(file);
  compiled.call(
    bundleModule.exports,
    bundleModule.exports,
    bundleRequire,
    bundleModule,
    file,
    path.dirname(file),
  );
}

/**
 * The file's bytes if this user owns it and nobody else may write it, else undefined: V8 runs what a
 * code cache holds, so one another account could have planted (`LATCHKEY_CODE_CACHE` pointed at a
 * shared directory) is never read. Checked on the open file, so it cannot be swapped in between.
 */
function readOwnFile(fs, file) {
  const fd = fs.openSync(file, 'r');
  try {
    const info = fs.fstatSync(fd);
    const uid = process.getuid?.();
    if (uid !== undefined && (info.uid !== uid || (info.mode & 0o022) !== 0)) return undefined;
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The SDK's per-user cache directory (packages/desktop/src/paths.ts, defaultCacheDir). */
function defaultCacheDir() {
  const os = require('node:os');
  const home = os.homedir();
  if (process.platform === 'win32')
    return path.join(process.env.LOCALAPPDATA || path.join(home, 'AppData', 'Local'), 'latchkey', 'Cache');
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'latchkey');
  return path.join(process.env.XDG_CACHE_HOME || path.join(home, '.cache'), 'latchkey');
}
