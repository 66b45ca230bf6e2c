/** Programmatic entry points of the Latchkey server (the CLI is `latchkey`, see cli/main.ts). */
export { ConfigError, loadConfig } from './config/index.js';
export type { LatchkeyConfig } from './config/types.js';
export { type RunningServer, type StartOptions, startServer } from './main/server.js';
