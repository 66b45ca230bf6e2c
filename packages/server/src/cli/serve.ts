import type { LatchkeyConfig } from '../config/types.js';
import { loggerOptions } from '../http/app.js';
import { type RunningServer, startServer } from '../main/server.js';
import { prettyStream } from './pretty-log.js';

export interface ServeOptions {
  /** How long in-flight requests may take to finish after a stop signal (default 10 s). */
  drainTimeoutMs?: number;
  signals?: readonly NodeJS.Signals[];
}

/**
 * Runs the server until SIGTERM or SIGINT, then stops gracefully: no new connections, in-flight
 * requests finish (Fastify's close), then the database pool closes. A second signal, or a drain
 * that outlasts `drainTimeoutMs`, ends the process at once with exit code 1.
 */
export async function serve(config: LatchkeyConfig, options: ServeOptions = {}): Promise<number> {
  // On a terminal a person reads the log: one readable line per entry; elsewhere it stays JSON.
  const tty = Boolean(process.stdout.isTTY);
  const server: RunningServer = await startServer(
    config,
    tty ? { logger: { ...(loggerOptions(config) as object), stream: prettyStream(process.stdout) } } : {},
  );
  if (tty) process.stdout.write(await summaryLine(server));
  server.app.log.info(
    { url: server.url, issuer: config.issuer, env: config.env, database: config.databaseUrl.split(':')[0] },
    `Latchkey is listening on ${server.url}`,
  );
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        server.app.log.warn({ signal }, 'second stop signal: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      server.app.log.info({ signal }, 'stopping: finishing in-flight requests');
      const timer = setTimeout(() => {
        server.app.log.error('in-flight requests did not finish in time; exiting');
        resolve(1);
      }, options.drainTimeoutMs ?? 10_000);
      timer.unref();
      server.close().then(
        () => {
          clearTimeout(timer);
          for (const s of signals) process.off(s, onSignal);
          resolve(0);
        },
        (error: unknown) => {
          clearTimeout(timer);
          server.app.log.error({ err: error }, 'error while stopping');
          resolve(1);
        },
      );
    };
    for (const s of signals) process.on(s, onSignal);
  });
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * "Latchkey on http://… — no organizations yet; see docs/configuration.md": what a newcomer needs
 * first, in words (the JSON log says the same for machines).
 */
export async function summaryLine(server: Pick<RunningServer, 'url' | 'parts'>): Promise<string> {
  const apps = await server.parts.repos.clients.list();
  const organizations = (await server.parts.repos.organizations.listWithDetails()).length;
  const names = apps.map((a) => a.name ?? a.id).join(', ');
  const appsText = apps.length === 0 ? 'no apps' : `${plural(apps.length, 'app', 'apps')} (${names})`;
  const what =
    apps.length === 0 && organizations === 0
      ? 'no apps or organizations yet; see docs/configuration.md'
      : organizations === 0
        ? `${appsText}, no organizations yet; see docs/configuration.md`
        : `${appsText}, ${plural(organizations, 'organization', 'organizations')}`;
  return `Latchkey on ${server.url} — ${what}\n`;
}
