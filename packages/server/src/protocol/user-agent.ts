/** The fixed-vocabulary User-Agent summary lives in the domain (the session listing uses it too). */
export { summarizeUserAgent, UNKNOWN_PROGRAM } from '../domain/user-agents.js';
