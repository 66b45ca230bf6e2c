/**
 * The sign-in logic shared by the window (app.ts) and the launch worker (early-worker.ts): the
 * silent sign-in from the stored refresh token, the Acme API call, and what each failure means for
 * the person in front of the window.
 */
import {
  type Account,
  type AuthenticationResult,
  InteractionRequiredError,
  type LatchkeyClient,
  LatchkeyError,
  NetworkError,
  OAuthError,
} from '@latchkey/desktop';
import type { AppConfig } from './config.js';

export interface Project {
  id: string;
  name: string;
}

export interface ApiAnswer {
  organization?: string;
  projects: Project[];
  error?: string;
}

/** What a launch found, as plain data (it crosses from the launch worker to the window's thread). */
export type LaunchOutcome =
  | { kind: 'signed-out'; loginHint?: string }
  | { kind: 'signed-in'; result: AuthenticationResult; api?: ApiAnswer }
  | { kind: 'refused'; loginHint?: string; reason: string }
  | { kind: 'offline'; account: Account; message: string }
  | { kind: 'failed'; account?: Account; message: string };

/** The one-line reason a stored sign-in was refused, for the form. */
export function refusalReason(error: InteractionRequiredError): string {
  // The server's `invalid_grant` description is generic by design (RFC 6749 §5.2): it does not tell
  // a disabled account from a revoked session, so neither does the app.
  const cause = error.cause;
  const detail = cause instanceof OAuthError && cause.error !== 'invalid_grant' ? ` (${cause.message})` : '';
  return `You were signed out: your sign-in is no longer accepted (account disabled or session ended)${detail}.`;
}

export function describe(error: unknown): string {
  if (error instanceof NetworkError) return `cannot reach the server (${error.message})`;
  if (error instanceof LatchkeyError) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * The app's own API call with an access token for it (RFC 8707 audience `config.api.resource`):
 * what "completely loaded" means here. Network failures throw `NetworkError`-like errors upward.
 */
export async function fetchProjects(client: LatchkeyClient, config: AppConfig): Promise<ApiAnswer> {
  let response: Response;
  try {
    // The SDK adds the access token, as `DPoP` with a proof of the session's key when it is bound.
    response = await client.fetch(new URL('/v1/projects', config.api.url), { resource: config.api.resource });
  } catch (error) {
    if (error instanceof InteractionRequiredError) throw error;
    return { projects: [], error: `Cannot reach the Acme API (${(error as Error).message}).` };
  }
  const body = (await response.json().catch(() => ({}))) as {
    organization?: { name?: string };
    projects?: Project[];
  };
  if (!response.ok) return { projects: [], error: `The Acme API answered ${response.status}.` };
  return {
    ...(body.organization?.name ? { organization: body.organization.name } : {}),
    projects: body.projects ?? [],
  };
}

/**
 * A launch: the stored account, then one refresh for the API's audience (no browser), then the API
 * call. Never throws: every ending is an outcome.
 */
export async function launchSilently(
  client: LatchkeyClient,
  config: AppConfig,
  options: { forceRefresh?: boolean; withApi?: boolean } = {},
): Promise<LaunchOutcome> {
  let account: Account | undefined;
  try {
    account = await client.getAccount();
    if (!account) {
      const state = await client.getState();
      return state.status === 'signed-out' && state.loginHint
        ? { kind: 'signed-out', loginHint: state.loginHint }
        : { kind: 'signed-out' };
    }
    const result = await client.signInSilently({
      resource: config.api.resource,
      ...(options.forceRefresh ? { forceRefresh: true } : {}),
    });
    if (!options.withApi) return { kind: 'signed-in', result };
    return { kind: 'signed-in', result, api: await fetchProjects(client, config) };
  } catch (error) {
    if (error instanceof InteractionRequiredError)
      return {
        kind: 'refused',
        reason: refusalReason(error),
        ...(error.loginHint ? { loginHint: error.loginHint } : {}),
      };
    if (error instanceof NetworkError && account) return { kind: 'offline', account, message: error.message };
    return { kind: 'failed', ...(account ? { account } : {}), message: describe(error) };
  }
}
