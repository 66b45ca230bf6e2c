/**
 * One window per user: the first `acme-desktop` listens on a per-user local socket; a later one (a
 * second launch from the menu, or a redirect URL no sign-in was waiting for) asks it to come to the
 * front and exits. Redirect URLs themselves travel over the SDK's own socket (`handleRedirect`).
 */
import { createHash } from 'node:crypto';
import { mkdir, unlink } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { homedir, userInfo } from 'node:os';
import path from 'node:path';

/** Asks the running window to come to the front. Resolves false when none listens. */
export function activateRunning(socketPath: string, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    const timer = setTimeout(() => finish(false), timeoutMs);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('activate\n'));
    socket.on('data', (chunk: Buffer) => {
      if (chunk.toString().startsWith('ok')) finish(true);
    });
  });
}

/** Listens for `activate`; the socket file of a crashed instance is replaced. */
export async function listenForActivation(
  socketPath: string,
  onActivate: () => void,
): Promise<{ close(): Promise<void> }> {
  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (chunk: Buffer) => {
      if (chunk.toString().startsWith('activate')) {
        onActivate();
        socket.end('ok\n');
      } else socket.destroy();
    });
  });
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  if (process.platform !== 'win32') await mkdir(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  try {
    await listen();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || process.platform === 'win32') throw error;
    await unlink(socketPath).catch(() => {});
    await listen();
  }
  // Not unref()'d: node-gtk polls Node's event loop from GLib's only while it has referenced handles;
  // an unreferenced server (like Node's signal watchers) would never see its connections.
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The window's socket: per user (runtime or cache directory, or a named pipe), issuer and client. */
export function windowSocketPath(
  config: { issuer: string; clientId: string; cacheDir?: string },
  env: NodeJS.ProcessEnv = process.env,
): string {
  const id = createHash('sha256')
    .update(`${config.issuer}\n${config.clientId}\n${config.cacheDir ?? ''}`)
    .digest('hex')
    .slice(0, 12);
  if (process.platform === 'win32') return `\\\\.\\pipe\\acme-desktop-${userInfo().username}-${id}`;
  const dir = env.XDG_RUNTIME_DIR || config.cacheDir || path.join(homedir(), '.cache', 'acme-desktop');
  return path.join(dir, `acme-desktop-${id}.sock`);
}
