/**
 * What Acme Desktop does with `@latchkey/desktop`: the integration a desktop developer copies.
 *
 * - Launch: a stored sign-in → `signInSilently({ resource })` (one refresh, no browser) → the main
 *   view and the API call; no stored sign-in → the sign-in form (email filled with the last account).
 * - Log in with email → `signIn({ loginHint })` in the system browser; the redirect comes home
 *   through the private-use scheme (a second process forwards it over the SDK's local socket),
 *   loopback, or the device flow.
 * - Network down → the main view with an "offline" banner and Retry. Refresh refused
 *   (`InteractionRequiredError`: account disabled, session revoked) → the form, email filled, reason.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  type Account,
  type AuthenticationResult,
  InteractionRequiredError,
  type LatchkeyClient,
  NetworkError,
  openSystemBrowser,
  UserCancelledError,
} from '@latchkey/desktop';
import type { AppConfig } from './config.js';
import type { SchemeStatus } from './scheme.js';
import {
  type ApiAnswer,
  describe,
  fetchProjects,
  type LaunchOutcome,
  launchSilently,
  refusalReason,
} from './session.js';
import type { AppWindow, View, WindowActions } from './window.js';

export interface AppOptions {
  config: AppConfig;
  client: LatchkeyClient;
  /** How the browser comes home this run (decided at launch from the scheme's registration). */
  flow: 'scheme' | 'loopback' | 'device';
  makeWindow(actions: WindowActions): AppWindow;
  repairScheme(): Promise<SchemeStatus>;
  /** `ACME_DESKTOP_TRACE=1`: one JSON line per view on stdout (tests, benchmarks). */
  trace?: (event: Record<string, unknown>) => void;
  /** The per-user cache directory (what the window last showed lives there). */
  cacheDir: string;
  /** A sign-in this process already finished (cold start from a redirect URL). */
  initial?: AuthenticationResult;
  /**
   * The launch's silent sign-in and API call, started on a worker thread before GTK loaded (main.ts,
   * early.ts): they run while the window is being built. Undefined (or resolving undefined): here.
   */
  early?: Promise<LaunchOutcome | undefined>;
  /** A line to show on the first form (e.g. why a redirect URL could not be used). */
  initialReason?: string;
  onQuit(): void;
}

export interface RunningApp {
  window: AppWindow;
  present(): void;
  quit(): Promise<void>;
}

export function startApp(options: AppOptions): RunningApp {
  const { client, config } = options;
  let view: View = { kind: 'loading', text: 'Starting…' };
  let signInAbort: AbortController | undefined;
  let lastUrl: string | undefined;
  let generation = 0; // a newer action makes the answers of older ones moot

  const actions: WindowActions = {
    signIn: (email) => void interactive(email, options.flow === 'device' ? 'device' : 'browser'),
    signInWithCode: (email) => void interactive(email, 'device'),
    cancel: () => signInAbort?.abort(),
    copyLink: () => {
      if (!lastUrl) return;
      window.copyToClipboard(lastUrl);
      status('Sign-in link copied. Paste it into your browser.');
    },
    // Retry and Reload ask the server (a refresh), so a disabled account or a revoked session shows.
    retry: () => void launch(true),
    signOut: (everywhere) => void signOut(everywhere),
    repairScheme: () =>
      void options.repairScheme().then(
        (result) => status(result.message),
        (error: unknown) => status(`Could not register the link handler: ${describe(error)}`),
      ),
    quit: () => void quit(),
  };
  const window = options.makeWindow(actions);
  const status = (text: string) => {
    window.status(text);
    options.trace?.({ event: 'status', text });
  };

  const show = (next: View) => {
    view = next;
    window.show(next);
    if (options.trace) {
      // After GTK has laid the view out: what a person (or a screen reader) sees.
      setImmediate(() =>
        options.trace?.({
          event: 'view',
          view: next.kind,
          ms: Math.round(performance.now()),
          texts: window.visibleTexts(),
          controls: window.controls(),
          focus: window.focused(),
          ...(next.kind === 'main'
            ? { loaded: next.projects !== undefined, offline: Boolean(next.offline) }
            : {}),
        }),
      );
    }
  };

  let shownAccount: Account | undefined;
  const mainView = (account: Account, claims?: Record<string, unknown>): View & { kind: 'main' } => {
    shownAccount = account;
    return mainViewOf(account, claims);
  };
  const mainViewOf = (account: Account, claims?: Record<string, unknown>): View & { kind: 'main' } => ({
    kind: 'main',
    ...(account.name ? { name: account.name } : {}),
    ...(account.email ? { email: account.email } : {}),
    ...(typeof claims?.org_id === 'string' ? { organization: claims.org_id } : {}),
  });

  /**
   * What the window last showed of the API (organization, projects), kept in the cache directory
   * (mode 0600, per account) so that an offline start shows it rather than nothing. Not a secret,
   * never a token.
   */
  const lastSeenFile = path.join(options.cacheDir, 'acme-desktop-last-seen.json');
  const remember = (account: Account, api: ApiAnswer) => {
    if (api.error) return;
    void writeFile(lastSeenFile, JSON.stringify({ subject: account.subject, api }), { mode: 0o600 }).catch(
      () => {},
    );
  };
  const recall = async (account: Account): Promise<ApiAnswer | undefined> => {
    try {
      const saved = JSON.parse(await readFile(lastSeenFile, 'utf8')) as { subject?: string; api?: ApiAnswer };
      return saved.subject === account.subject ? saved.api : undefined;
    } catch {
      return undefined;
    }
  };

  const withApi = (base: View & { kind: 'main' }, api: ApiAnswer): View => ({
    ...base,
    ...(api.organization ? { organization: api.organization } : {}),
    projects: api.projects,
    ...(api.error ? { apiError: api.error } : {}),
  });

  /** The app's own API call with the access token: what "completely loaded" means here. */
  const loadProjects = async (base: View & { kind: 'main' }, mine: number) => {
    try {
      const api = await fetchProjects(client, config);
      if (mine !== generation) return;
      show(withApi(base, api));
      if (shownAccount) remember(shownAccount, api);
    } catch (error) {
      if (mine !== generation) return;
      if (error instanceof InteractionRequiredError)
        return refused({
          reason: refusalReason(error),
          ...(error.loginHint ? { loginHint: error.loginHint } : {}),
        });
      if (error instanceof NetworkError) return offline(base, error.message);
      show({ ...base, projects: [], apiError: `Cannot reach the Acme API (${describe(error)}).` });
    }
  };

  const signedIn = (result: AuthenticationResult, mine: number, api?: ApiAnswer) => {
    const base = mainView(result.account, result.idTokenClaims as Record<string, unknown> | undefined);
    show(api ? withApi(base, api) : base);
    if (api) remember(result.account, api);
    window.present();
    return api ? undefined : loadProjects(base, mine);
  };

  const offline = async (base: View & { kind: 'main' }, _message: string) => {
    const last = shownAccount ? await recall(shownAccount) : undefined;
    show({
      ...base,
      ...(last?.organization ? { organization: last.organization } : {}),
      ...(last
        ? { projects: last.projects, apiError: 'As of your last visit: Acme Desktop is offline.' }
        : {}),
      offline: `You are offline: ${new URL(config.issuer).host} cannot be reached. Your sign-in is kept.`,
    });
  };

  const refused = (outcome: { loginHint?: string; reason: string }) =>
    show({
      kind: 'sign-in',
      ...(outcome.loginHint ? { email: outcome.loginHint } : {}),
      reason: outcome.reason,
    });

  /** Launch, Retry and Reload: silent sign-in from the stored refresh token, never a browser. */
  const launch = async (forceRefresh = false, early?: Promise<LaunchOutcome | undefined>) => {
    const mine = ++generation;
    const outcome =
      (await early?.catch(() => undefined)) ??
      (await launchSilently(client, config, forceRefresh ? { forceRefresh } : {}));
    if (mine !== generation) return;
    switch (outcome.kind) {
      case 'signed-out':
        return show({
          kind: 'sign-in',
          ...(outcome.loginHint ? { email: outcome.loginHint } : {}),
          ...(options.initialReason ? { reason: options.initialReason } : {}),
        });
      case 'signed-in':
        return signedIn(outcome.result, mine, outcome.api);
      case 'refused':
        return refused(outcome);
      case 'offline':
        return offline(mainView(outcome.account), outcome.message);
      case 'failed':
        return show({
          kind: 'sign-in',
          ...(outcome.account?.email ? { email: outcome.account.email } : {}),
          reason: outcome.message,
        });
    }
  };

  const interactive = async (email: string, how: 'browser' | 'device') => {
    if (view.kind !== 'sign-in' || view.busy) return;
    const mine = ++generation;
    signInAbort = new AbortController();
    const signal = signInAbort.signal;
    const loginHint = email || undefined;
    show({ kind: 'sign-in', email, busy: true });
    status('');
    try {
      let result: AuthenticationResult;
      if (how === 'device') {
        result = await client.signInWithDeviceCode(
          async (info) => {
            if (mine !== generation) return;
            const target = info.verificationUriComplete ?? info.verificationUri;
            lastUrl = target;
            show({
              kind: 'device',
              userCode: info.userCode,
              verificationUri: info.verificationUri,
              ...(info.verificationUriComplete
                ? { verificationUriComplete: info.verificationUriComplete }
                : {}),
              ...((await qrCodeFile(target)) ?? {}),
            });
          },
          { ...(loginHint ? { loginHint } : {}), signal },
        );
      } else {
        result = await client.signIn({
          ...(loginHint ? { loginHint } : {}),
          signal,
          openBrowser: async (url) => {
            lastUrl = url;
            show({ kind: 'waiting', url, flow: options.flow === 'loopback' ? 'loopback' : 'scheme' });
            await openSystemBrowser(url).catch(() =>
              status('Could not open a browser: copy the link and open it yourself.'),
            );
          },
        });
      }
      if (mine !== generation) return;
      status('');
      await signedIn(result, mine);
    } catch (error) {
      if (mine !== generation) return;
      show({
        kind: 'sign-in',
        email,
        ...(error instanceof UserCancelledError
          ? {}
          : { reason: `Sign-in did not finish: ${describe(error)}` }),
      });
    } finally {
      signInAbort = undefined;
      lastUrl = undefined;
    }
  };

  const signOut = async (everywhere: boolean) => {
    const mine = ++generation;
    const email = view.kind === 'main' ? view.email : undefined;
    try {
      const result = await client.signOut({ everywhere, openBrowser: (url) => openSystemBrowser(url) });
      if (mine !== generation) return;
      show({ kind: 'sign-in', ...(email ? { email } : {}) });
      status(
        result.revocation === 'revoked'
          ? everywhere
            ? 'Signed out here and in your browser.'
            : 'Signed out.'
          : result.revocation === 'not-signed-in'
            ? 'You were not signed in.'
            : result.revocation === 'unsupported'
              ? 'Signed out on this computer (the server cannot revoke sign-ins).'
              : 'Signed out on this computer (the server could not be reached to revoke the sign-in).',
      );
    } catch (error) {
      show({ kind: 'sign-in', ...(email ? { email } : {}), reason: `Sign-out: ${describe(error)}` });
    }
  };

  let quitting: Promise<void> | undefined;
  const quit = () => {
    quitting ??= (async () => {
      generation++;
      signInAbort?.abort();
      await client.close().catch(() => {});
      window.destroy();
      options.onQuit();
    })();
    return quitting;
  };

  show(view);
  if (options.initial) void signedIn(options.initial, ++generation);
  else void launch(false, options.early);

  return { window, present: () => window.present(), quit };
}

/** The QR code of the device link, as a PNG in a temporary file (loaded only for the device flow). */
async function qrCodeFile(text: string): Promise<{ qrPng: string } | undefined> {
  try {
    const { default: qrcode } = await import('qrcode');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'acme-desktop-qr-'));
    const file = path.join(dir, 'code.png');
    await writeFile(file, await qrcode.toBuffer(text, { width: 220, margin: 2 }));
    return { qrPng: file };
  } catch {
    return undefined;
  }
}
