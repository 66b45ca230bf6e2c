export { listAudit } from './audit.js';
export { addClient, listClients, removeClient } from './clients.js';
export type { AdminContext } from './context.js';
export { hasVerificationRecord, type TxtResolver, verificationRecord } from './domain-verification.js';
export { AdminError } from './errors.js';
export { listKeys, rotateKeys } from './keys.js';
export {
  addDomain,
  addOrganization,
  listDomains,
  listOrganizations,
  removeDomain,
  removeOrganization,
  setConnection,
  verifyDomain,
} from './organizations.js';
export { listSessions, revokeSessions } from './sessions.js';
export {
  addUser,
  clearThrottle,
  createResetLink,
  disableUser,
  enableUser,
  findUser,
  listUsers,
  resetTwoStep,
  setPassword,
} from './users.js';
