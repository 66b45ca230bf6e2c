import type { AdminContext } from '../../admin/context.js';
import { createScimToken } from '../../admin/scim-tokens.js';
import { openAdmin } from '../../main/open-admin.js';
import type { TestServer } from '../../test-support/server.js';
import { BASE_YAML } from '../../test-support/server.js';

/** BASE_YAML plus two organizations that provision by SCIM (one for Entra ID, one for Okta). */
export const SCIM_YAML = BASE_YAML.replace(
  'users:\n',
  `  - id: contoso
    name: Contoso
    domains: [contoso.test]
    connection: { type: local }
  - id: okta-co
    name: Okta Co
    domains: [okta-co.test]
    connection: { type: local }
users:
`,
);

export interface ScimResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body (undefined when empty). */
  json: Record<string, unknown> & { Resources?: Record<string, unknown>[] };
  text: string;
}

/** A SCIM client as a provisioning service is: real HTTP, a bearer token, SCIM JSON. */
export class ScimClient {
  constructor(
    readonly base: string,
    readonly token: string | undefined,
  ) {}

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ScimResponse> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        accept: 'application/scim+json',
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let json = {} as ScimResponse['json'];
    if (text) json = JSON.parse(text) as ScimResponse['json'];
    return { status: response.status, headers: response.headers, json, text };
  }

  get = (path: string, headers?: Record<string, string>) => this.request('GET', path, undefined, headers);
  post = (path: string, body: unknown) => this.request('POST', path, body);
  put = (path: string, body: unknown, headers?: Record<string, string>) =>
    this.request('PUT', path, body, headers);
  patch = (path: string, body: unknown, headers?: Record<string, string>) =>
    this.request('PATCH', path, body, headers);
  delete = (path: string, headers?: Record<string, string>) =>
    this.request('DELETE', path, undefined, headers);
}

/** An admin context on the test server's database, as `latchkey admin …` opens it. */
export function adminFor(server: TestServer): Promise<AdminContext> {
  return openAdmin(server.config, { applyConfig: false, actor: 'test-admin' });
}

/** A SCIM token made by the admin operation (`latchkey admin scim-tokens create`). */
export async function scimClientFor(admin: AdminContext, organizationId: string): Promise<ScimClient> {
  const created = await createScimToken(admin, { organizationId, label: `${organizationId} provisioning` });
  return new ScimClient(created.url, created.token);
}

export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
