import type { FastifyInstance } from 'fastify';
import type Provider from 'oidc-provider';
import type { Backend } from '../main/backend.js';
import type { LatchkeyConfig } from '../config/types.js';
import type { Csrf } from '../web/csrf.js';
import { metricsPlugin } from '../http/metrics.js';
import { accountPages } from '../account/account-routes.js';
import type { SignInFlow } from './interaction-routes.js';
import { passwordResetPages } from '../reset/reset-routes.js';
import { passkeyAsset, twoStepExtension } from './two-step.js';
import { upstreamExtension, upstreamPages } from '../federation/index.js';

/** What every sign-in extension and page plugin may use. */
export interface ExtensionDeps {
  config: LatchkeyConfig;
  backend: Backend;
  provider(): Provider;
  csrf: Csrf;
}

export type SignInExtension = (app: FastifyInstance, flow: SignInFlow) => Promise<void> | void;
export type PagePlugin = (app: FastifyInstance) => Promise<void> | void;

/**
 * Sign-in steps beyond email and password, registered in this order. Each module owns its routes
 * under /interaction/:uid/<step> and registers its step renderers on the flow.
 */
export function signInExtensions(deps: ExtensionDeps): SignInExtension[] {
  return [twoStepExtension(deps), upstreamExtension(deps)];
}

/** Pages outside an interaction (account page, upstream callbacks, metrics), each in its own context. */
export function pagePlugins(deps: ExtensionDeps): PagePlugin[] {
  const metrics = metricsPlugin({ provider: deps.provider, audit: deps.backend.repos.audit });
  return [
    passkeyAsset,
    accountPages(deps),
    passwordResetPages(deps),
    upstreamPages(deps),
    ...(metrics ? [metrics] : []),
  ];
}
