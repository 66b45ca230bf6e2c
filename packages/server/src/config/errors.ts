import { ServerError } from '../errors/server-error.js';
export interface ConfigIssue {
  /** Where the problem is: a YAML key path such as `clients[0].redirect_uris[1]`, or an env var name. */
  path: string;
  message: string;
}

/**
 * Invalid configuration. The message names the sources (file, environment) and lists every issue
 * as `path: message`, so the operator can find each one. Messages never contain secret values.
 */
export class ConfigError extends ServerError {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];
  /** The sources the issues refer to, e.g. `file /etc/latchkey.yaml` and `environment`. */
  readonly sources: readonly string[];

  constructor(issues: ConfigIssue[], sources: string[]) {
    const lines = issues.map((issue) => `  - ${issue.path}: ${issue.message}`);
    const where = sources.length > 0 ? ` (${sources.join(', ')})` : '';
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super('config_invalid', `Invalid Latchkey configuration${where}, ${count}:\n${lines.join('\n')}`, {
      expose: false,
    });
    this.issues = Object.freeze(issues.map((issue) => Object.freeze({ ...issue })));
    this.sources = Object.freeze([...sources]);
  }
}

/** Replaces every occurrence of a known secret value in `text`, as a last line of defence. */
export function redactText(text: string, secrets: Iterable<string>): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  const sorted = [...new Set(secrets)].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  for (const secret of sorted) out = out.split(secret).join('[redacted]');
  return out;
}
