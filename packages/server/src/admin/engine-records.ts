/**
 * The protocol engine's records module, loaded on first use: it pulls in oidc-provider, which costs
 * start-up time (and prints a runtime warning on Node 20) for commands that never touch tokens.
 */
export function engineRecords(): Promise<typeof import('../storage/oidc-adapter.js')> {
  return import('../storage/oidc-adapter.js');
}
