export * from './recovery-codes.js';
export * from './totp.js';
export * from './webauthn.js';
