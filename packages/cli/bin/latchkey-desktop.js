#!/usr/bin/env node
import module from 'node:module';
import { setFlagsFromString } from 'node:v8';

// A command lives well under a second. Node's fetch parses HTTP with a WebAssembly module that V8
// would re-compile with its optimizing tier in the background, and exit waits for that job (~150 ms
// here). The baseline compiler alone is plenty for one token request.
setFlagsFromString('--liftoff-only');
// Node 22.1+: keep compiled code on disk between runs (a no-op where unavailable).
module.enableCompileCache?.();
// The whole command in one file (scripts/bundle.mjs): one read and one compile instead of dozens.
await import('../dist/latchkey-desktop.js');
