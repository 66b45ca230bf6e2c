// Types for the parts of bench/lib.mjs that server tests reuse (fleet, faults, metrics).
export declare class CookieJar {
  store(response: Response): void;
  header(): string;
}
export declare function httpSignIn(
  issuer: string,
  options: { clientId: string; redirectUri: string; email: string; password: string; scope?: string },
): Promise<{ access_token: string; refresh_token: string; id_token: string; [key: string]: unknown }>;
export declare function percentile(sorted: ArrayLike<number>, p: number): number;
export declare function sleep(ms: number): Promise<void>;
