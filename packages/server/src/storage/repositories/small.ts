// TEMPORARY: remove when importers outside storage/ move (lead)
// The repositories that lived here are in files named by what they hold; this only re-exports them.
export { actionTokensRepository } from './action-tokens.js';
export { type AuditEvent, auditRepository } from './audit.js';
export { replayCacheRepository } from './replay-cache.js';
export { resourcesRepository } from './resources.js';
export { signInStatesRepository } from './sign-in-states.js';
export { signingKeysRepository } from './signing-keys.js';
export { upstreamRequestsRepository } from './upstream-requests.js';
