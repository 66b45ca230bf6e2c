import type { SignInStep } from './pages.js';
import { totpCode } from './totp.js';

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  origin: string;
}

/** A minimal cookie jar (origin + path match) for driving sign-in pages with fetch. */
export class CookieJar {
  readonly #cookies: StoredCookie[] = [];

  store(url: URL, response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = false;
      for (const attribute of attributes) {
        const [key = '', val = ''] = attribute.split('=').map((s) => s.trim());
        if (key.toLowerCase() === 'path' && val) path = val;
        if (key.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
        if (key.toLowerCase() === 'expires' && Date.parse(val) <= Date.now()) expired = true;
      }
      const index = this.#cookies.findIndex(
        (c) => c.name === name && c.path === path && c.origin === url.origin,
      );
      if (index >= 0) this.#cookies.splice(index, 1);
      if (!expired) this.#cookies.push({ name, value, path, origin: url.origin });
    }
  }

  header(url: URL): string {
    return this.#cookies
      .filter(
        (c) =>
          c.origin === url.origin &&
          (url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)),
      )
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

export interface HeadlessSignInOptions {
  /** Typed on the email page when it is shown (it is skipped when a known `login_hint` was sent). */
  email?: string | undefined;
  password: string;
  /** Generates the 2-step verification code; or give `code` to type a fixed one. */
  totpSecret?: string | undefined;
  code?: string | undefined;
  /** Click "Cancel" on the first sign-in page instead of signing in. */
  cancel?: boolean | undefined;
  /** Reuse a jar to keep the IdP's browser session between sign-ins. */
  jar?: CookieJar | undefined;
}

export interface HeadlessSignInResult {
  /** The URL the IdP finally redirected to (the client's redirect URI with `code` or `error`). */
  callbackUrl: URL;
  /** The sign-in pages shown, in order. */
  steps: SignInStep[];
  /** Query parameters of the callback, for convenience. */
  params: Record<string, string>;
}

export class HeadlessSignInError extends Error {
  override readonly name = 'HeadlessSignInError';
  constructor(
    message: string,
    readonly step?: SignInStep | undefined,
    readonly status?: number | undefined,
  ) {
    super(message);
  }
}

function formOf(html: string): { step: SignInStep; action: string } | undefined {
  const match = /<form[^>]*action="([^"]+)"[^>]*data-step="(email|password|totp)"/.exec(html);
  if (!match?.[1] || !match[2]) return undefined;
  return { action: match[1].replace(/&amp;/g, '&'), step: match[2] as SignInStep };
}

function errorOf(html: string): string | undefined {
  return /<p class="error" role="alert">([^<]*)<\/p>/.exec(html)?.[1];
}

/**
 * Follows an authorization URL through the stand-in's pages the way a browser would (manual
 * redirects, cookies), types what `options` says, and returns where the IdP sent the browser back to.
 */
export async function signInHeadless(
  authorizationUrl: string | URL,
  options: HeadlessSignInOptions,
): Promise<HeadlessSignInResult> {
  const start = new URL(authorizationUrl);
  const jar = options.jar ?? new CookieJar();
  const steps: SignInStep[] = [];
  let url = start;
  let init: { method: string; body?: URLSearchParams } = { method: 'GET' };
  let lastStep: SignInStep | undefined;

  for (let hop = 0; hop < 40; hop++) {
    const headers: Record<string, string> = {};
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(url, response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      const next = new URL(location, url);
      if (next.origin !== start.origin) {
        return { callbackUrl: next, steps, params: Object.fromEntries(next.searchParams) };
      }
      url = next;
      init = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    const error = errorOf(html);
    if (error && lastStep) throw new HeadlessSignInError(error, lastStep, response.status);
    const form = formOf(html);
    if (!form) throw new HeadlessSignInError(`unexpected page (HTTP ${response.status}) at ${url.pathname}`);
    steps.push(form.step);
    if (options.cancel) {
      url = new URL(form.action.replace(/\/(email|password|totp)$/, '/abort'), url);
      init = { method: 'GET' };
      continue;
    }
    const body = new URLSearchParams();
    if (form.step === 'email') {
      if (!options.email)
        throw new HeadlessSignInError('the email page was shown but no email was given', 'email');
      body.set('email', options.email);
    } else if (form.step === 'password') {
      body.set('password', options.password);
    } else {
      const code = options.code ?? (options.totpSecret ? await totpCode(options.totpSecret) : undefined);
      if (!code)
        throw new HeadlessSignInError('2-step verification was asked but no code or secret given', 'totp');
      body.set('code', code);
    }
    lastStep = form.step;
    url = new URL(form.action, url);
    init = { method: 'POST', body };
  }
  throw new HeadlessSignInError('too many redirects');
}
