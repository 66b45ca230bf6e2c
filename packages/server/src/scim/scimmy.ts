import { createRequire } from 'node:module';
import type SCIMMYModule from 'scimmy';

/**
 * scimmy (RFC 7643/7644 schemas, filters and PatchOp semantics), configured once per process. Only
 * its schema, filter and message classes are used, with Latchkey's own storage and routes around
 * them; its resource registry serves the discovery endpoints (ResourceTypes, Schemas,
 * ServiceProviderConfig).
 */
let loaded: typeof SCIMMYModule | undefined;

/**
 * Loaded with the first SCIM request, not when the server starts (most servers are never
 * provisioned over SCIM; README, Performance: idle memory). Its CommonJS build, so that loading
 * stays synchronous; nothing else imports scimmy, so there is one copy.
 */
export function scimmy(): typeof SCIMMYModule {
  if (!loaded) {
    const SCIMMY = createRequire(import.meta.url)('scimmy') as typeof SCIMMYModule;
    SCIMMY.Config.set({
      documentationUri: undefined,
      patch: true,
      filter: { supported: true, maxResults: 1000 },
      etag: true,
      sort: false,
      bulk: false,
      changePassword: false,
      authenticationSchemes: [
        {
          type: 'oauthbearertoken',
          name: 'Bearer token',
          description:
            'The token made by `latchkey admin scim-tokens create --org <organization>`, as Authorization: Bearer <token>.',
        },
      ],
    });
    SCIMMY.Resources.declare(SCIMMY.Resources.User).extend(SCIMMY.Schemas.EnterpriseUser, false);
    SCIMMY.Resources.declare(SCIMMY.Resources.Group);
    loaded = SCIMMY;
  }
  return loaded;
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
