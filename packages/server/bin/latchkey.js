#!/usr/bin/env node
// First: drops oidc-provider's "Unsupported runtime" line on Node 20 (see the module's comment).
import '../dist/cli/runtime-warning.js';
import '../dist/cli/main.js';
