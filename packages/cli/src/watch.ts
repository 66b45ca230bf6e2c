import {
  InteractionRequiredError,
  type LatchkeyClient,
  NetworkError,
  type SignedOutEvent,
} from '@latchkey/desktop';
import type { Io } from './output.js';

/**
 * `latchkey-desktop watch`: stays running while signed in and reports the moment the server ends
 * the session (live sign-out: the SDK's `signed-out` event, verified against the server's keys).
 * Exits 3 (not signed in) then, so a script can react; Ctrl-C ends it with 0.
 */
export async function watch(
  client: LatchkeyClient,
  io: Io,
  print: (text: string, data: unknown) => void,
  exitCodes: { ok: number; notSignedIn: number; offline: number },
): Promise<number> {
  let account: { email?: string; subject: string };
  try {
    ({ account } = await client.signInSilently());
  } catch (error) {
    if (error instanceof InteractionRequiredError) {
      print(
        `Not signed in.${error.loginHint ? ` Last account: ${error.loginHint}.` : ''} Run: latchkey-desktop login`,
        {
          status: 'signed-out',
          ...(error.loginHint ? { loginHint: error.loginHint } : {}),
        },
      );
      return exitCodes.notSignedIn;
    }
    if (error instanceof NetworkError) {
      io.stderr.write(`Cannot reach the server: ${error.message}\n`);
      return exitCodes.offline;
    }
    throw error;
  }
  io.stderr.write(`Watching the sign-in of ${account.email ?? account.subject} (Ctrl-C to stop)…\n`);
  const event = await new Promise<SignedOutEvent | undefined>((resolve) => {
    const off = client.on('signed-out', (e) => {
      off();
      process.off('SIGINT', interrupted);
      resolve(e);
    });
    const interrupted = () => {
      off();
      resolve(undefined);
    };
    process.once('SIGINT', interrupted);
  });
  if (!event) return exitCodes.ok;
  const why = event.message ?? event.reason.replaceAll('_', ' ');
  print(
    `Signed out: ${why} (${event.reason}${event.verified ? ', signed by the server' : ''}). Run: latchkey-desktop login${event.loginHint ? ` --email ${event.loginHint}` : ''}`,
    {
      status: 'signed-out',
      reason: event.reason,
      verified: event.verified,
      at: event.at.toISOString(),
      ...(event.initiatingEntity ? { initiatingEntity: event.initiatingEntity } : {}),
      ...(event.message ? { message: event.message } : {}),
      ...(event.loginHint ? { loginHint: event.loginHint } : {}),
    },
  );
  return exitCodes.notSignedIn;
}
