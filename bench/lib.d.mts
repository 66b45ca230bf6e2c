// Types for the parts of bench/lib.mjs that server tests reuse (fleet, faults, metrics).
export declare class CookieJar {
  store(response: Response): void;
  header(): string;
}
export declare function httpSignIn(
  issuer: string,
  options: {
    clientId: string;
    redirectUri: string;
    email: string;
    password: string;
    scope?: string;
    /** An API (RFC 8707) the refresh token may later ask JWT access tokens for. */
    resource?: string;
    /** More origins that are Latchkey (a fleet reached by address: its redirects name the issuer). */
    origins?: string[];
    /** The fetch to use (e.g. one that trusts a test TLS proxy's CA); default the global one. */
    fetch?: typeof globalThis.fetch;
  },
): Promise<{ access_token: string; refresh_token: string; id_token: string; [key: string]: unknown }>;
export declare function percentile(sorted: ArrayLike<number>, p: number): number;
export declare function sleep(ms: number): Promise<void>;
export interface Child {
  child: import('node:child_process').ChildProcess;
  ready: Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  call(cmd: string, payload?: Record<string, unknown>): Promise<unknown>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}
export declare function spawnChild(
  script: string,
  options?: { args?: string[]; env?: Record<string, string>; execArgv?: string[]; quiet?: boolean },
): Child;
export declare function createScratchPostgres(
  adminUrl: string,
): Promise<{ url: string; drop(): Promise<void> }>;
