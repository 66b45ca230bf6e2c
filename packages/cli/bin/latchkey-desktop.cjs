#!/usr/bin/env node
'use strict';
// CommonJS on purpose, like the bundle it runs (scripts/bundle.mjs): a command that never starts
// Node's ESM loader is ready sooner.

// Node 22.1+: keep compiled code on disk between runs (a no-op where unavailable).
require('node:module').enableCompileCache?.();
// The whole command in one file: one read and one compile instead of dozens.
require('../dist/latchkey-desktop.cjs');
