import type { SignInTable } from './flow.js';
import { emailStep } from './steps/email.js';
import { enrollmentStep } from './steps/enrollment.js';
import { finishStep } from './steps/finish.js';
import { launchStep } from './steps/launch.js';
import { passkeyStep } from './steps/passkey.js';
import { passwordStep } from './steps/password.js';
import { policyStep } from './steps/policy.js';
import { recoveryCodesStep } from './steps/recovery-codes.js';
import { routeStep } from './steps/route.js';
import { secondFactorStep } from './steps/second-factor.js';
import { upstreamStep } from './steps/upstream.js';

/**
 * The sign-in, step by step. A step moves only to a step its line names (the runner refuses
 * anything else), so every first factor — password, passkey, the organization's IdP — passes the
 * policy step, and only the policy step reaches `finish`. Adding a step: one module in steps/ and
 * one line here.
 */
// biome-ignore format: a table, read as one
export const SIGN_IN_TABLE: SignInTable = {
  email:            { step: emailStep,         next: ['route'] },                                 // the work email (or a passkey)
  route:            { step: routeStep,         next: ['password', 'upstream'] },                  // domain → organization → its connection
  password:         { step: passwordStep,      next: ['policy'] },                                // local account
  passkey:          { step: passkeyStep,       next: ['policy'] },                                // discoverable passkey, no email
  upstream:         { step: upstreamStep,      next: ['policy'] },                                // Google, OIDC, SAML round trip
  policy:           { step: policyStep,        next: ['second-factor', 'enrollment', 'finish'] }, // 2SV? app allowed? throttle refund
  'second-factor':  { step: secondFactorStep,  next: ['policy'] },                                // TOTP, passkey, recovery code
  enrollment:       { step: enrollmentStep,    next: ['recovery-codes'] },                        // authenticator app, required by policy
  'recovery-codes': { step: recoveryCodesStep, next: ['policy'] },                                // shown once
  finish:           { step: finishStep,        next: [] },                                        // the engine records the login
  launch:           { step: launchStep,        next: ['route'] },                                 // the click mints the code (RFC 8252 §8.6)
};
