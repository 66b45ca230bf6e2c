import { mkdir, unlink } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { dirname } from 'node:path';

/** The reply of the running app to a forwarded redirect. */
export type ForwardReply =
  | { ok: true; account?: { subject: string; email?: string } }
  | { ok: false; code: string; message: string };

const MAX_LINE = 64 * 1024;

function readLine(socket: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => finish(new Error('timed out waiting on the local socket')), timeoutMs);
    const finish = (error?: Error, line?: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      if (error) reject(error);
      else resolve(line ?? '');
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\n');
      if (end >= 0) finish(undefined, buffer.slice(0, end));
      else if (buffer.length > MAX_LINE) finish(new Error('message too long'));
    };
    const onError = (error: Error) => finish(error);
    const onEnd = () => finish(new Error('connection closed'));
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
  });
}

/**
 * Listens on the per-user local socket (Unix domain socket, or a Windows named pipe) for redirect URLs
 * forwarded by another process of the same app: the OS starts a new process for a private-use-scheme
 * URL (RFC 8252 §7.1), and that process hands the URL to the one waiting for it.
 */
export async function listenForRedirects(
  path: string,
  handle: (url: string) => Promise<ForwardReply>,
): Promise<{ close(): Promise<void> }> {
  // Loaded when used: a silent sign-in (every app start) never needs it.
  const { createServer } = await import('node:net');
  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    readLine(socket, 10_000).then(
      async (line) => {
        let reply: ForwardReply;
        try {
          const message = JSON.parse(line) as { type?: string; url?: unknown };
          reply =
            message.type === 'redirect' && typeof message.url === 'string'
              ? await handle(message.url)
              : { ok: false, code: 'bad_message', message: 'unknown message' };
        } catch (error) {
          reply = { ok: false, code: 'bad_message', message: (error as Error).message };
        }
        socket.end(`${JSON.stringify(reply)}\n`);
      },
      () => socket.destroy(),
    );
  });
  if (process.platform !== 'win32') await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  try {
    await listen();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || process.platform === 'win32') throw error;
    // A socket file left by a crashed process, or another sign-in of this app: the newest sign-in wins.
    await unlink(path).catch(() => {});
    await listen();
  }
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

/**
 * Hands a redirect URL to the running app. Resolves `undefined` when no app listens (cold start), the
 * app's reply otherwise.
 */
export async function forwardRedirect(
  path: string,
  url: string,
  timeoutMs = 60_000,
): Promise<ForwardReply | undefined> {
  const { connect } = await import('node:net');
  const socket = await new Promise<Socket | undefined>((resolve) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
  if (!socket) return undefined;
  try {
    socket.write(`${JSON.stringify({ type: 'redirect', url })}\n`);
    return JSON.parse(await readLine(socket, timeoutMs)) as ForwardReply;
  } finally {
    socket.destroy();
  }
}
