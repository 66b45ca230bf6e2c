#!/usr/bin/env node
import module from 'node:module';

// Node 22.1+: keep compiled code on disk between runs (a no-op where unavailable).
module.enableCompileCache?.();
// The whole command in one file (scripts/bundle.mjs): one read and one compile instead of dozens.
// (No `--liftoff-only` any more: the SDK's requests to the server go over node:http, node-fetch.ts,
// so no command but `watch` starts fetch's WebAssembly HTTP parser, whose optimizing compile a
// short-lived process used to wait for at exit.)
await import('../dist/latchkey-desktop.js');
