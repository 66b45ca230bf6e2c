import type { FastifyInstance } from 'fastify';
import type { JWK } from 'jose';
import type { AdminContext } from '../admin/context.js';
import type { SecretBox } from '../crypto/secret-box.js';
import { acceptFormsOnly } from '../web/reply.js';
import { createCallerResolver } from './caller.js';
import { consoleStylesheet } from './console-css.js';
import { createKit } from './kit.js';
import { localFetch } from './local-fetch.js';
import { createConsoleOidc } from './oidc.js';
import { registerAuthRoutes } from './routes/auth-routes.js';
import { registerInstanceRoutes } from './routes/instance-routes.js';
import { registerOrganizationRoutes } from './routes/organization-routes.js';
import { registerOverviewRoutes } from './routes/overview-routes.js';
import { registerUserRoutes } from './routes/user-routes.js';
import { createSessionCookies } from './session.js';

export { consoleClient, consoleEnabled } from './console-client.js';

export interface ConsoleDeps {
  /** The same context the admin API acts through (each request acts as its administrator). */
  admin: AdminContext;
  /** The engine's signing keys, to verify the console's access tokens as the API does. */
  jwks(): { keys: JWK[] };
  /** Seals the console's cookies. */
  secretBox: SecretBox;
}

/**
 * The web console at /admin (docs/console.md): an OIDC client of this very server whose pages call
 * the admin API's operations in-process as the signed-in administrator.
 */
export async function registerConsole(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { issuer } = deps.admin.config;
  acceptFormsOnly(app);
  const oidc = createConsoleOidc({ issuer, fetch: localFetch(app, new URL(issuer)) });
  const cookies = createSessionCookies(deps.secretBox, issuer.startsWith('https:'));
  const resolver = createCallerResolver({ admin: deps.admin, jwks: deps.jwks, oidc, cookies });
  const kit = createKit(app, resolver);

  app.get('/admin/assets/console.css', async (_request, reply) =>
    reply
      .type('text/css; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .send(consoleStylesheet),
  );
  registerAuthRoutes(app, kit, { oidc, cookies, resolver, issuer });
  registerOverviewRoutes(kit, deps.admin.database);
  registerUserRoutes(kit);
  registerOrganizationRoutes(kit);
  registerInstanceRoutes(kit);
}
