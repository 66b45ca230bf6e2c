/**
 * The launch's silent sign-in, on a worker thread: loading GTK and building the window blocks the
 * main thread for a few hundred milliseconds, and this work (reading the store, the refresh, the API
 * call) needs an event loop to make progress. Here it runs alongside; the window gets the outcome.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { clientFor } from './client.js';
import type { AppConfig } from './config.js';
import { launchSilently } from './session.js';

const { config, redirect } = workerData as { config: AppConfig; redirect: string };
const client = await clientFor(config, redirect);
try {
  parentPort?.postMessage(await launchSilently(client, config, { withApi: true }));
} finally {
  await client.close();
}
