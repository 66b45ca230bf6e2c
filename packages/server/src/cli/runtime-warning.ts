/**
 * oidc-provider prints `oidc-provider WARNING: Unsupported runtime…` on import under Node 20: its
 * maintainers support only the current LTS lines. Latchkey supports 20.19+ (README, "Node.js") and
 * its suites pass there, so on Node 20 the CLI drops exactly that one line, which a newcomer would
 * read as a fault on every command. Every other warning, the engine's included, still prints.
 * Imported first by bin/latchkey.js, before anything loads the engine.
 */

// The engine colours the line on a terminal; compare without the escape codes.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the ANSI escape is what we strip.
const ANSI = /\u001b\[[0-9;]*m/g;
const UNSUPPORTED_RUNTIME = /^oidc-provider WARNING: Unsupported runtime\./;

export function isUnsupportedRuntimeWarning(args: unknown[]): boolean {
  return (
    args.length === 1 && typeof args[0] === 'string' && UNSUPPORTED_RUNTIME.test(args[0].replace(ANSI, ''))
  );
}

/** Installs the filter on Node 20 only (on 22+ the engine prints nothing); returns the undo. */
export function quietUnsupportedRuntimeWarning(nodeVersion = process.versions.node): () => void {
  if (nodeVersion.split('.')[0] !== '20') return () => {};
  const original = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!isUnsupportedRuntimeWarning(args)) original.apply(console, args);
  };
  return () => {
    console.warn = original;
  };
}

quietUnsupportedRuntimeWarning();
