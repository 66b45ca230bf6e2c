/** Starts early-worker.ts; its outcome, or undefined when the worker could not run. */
import { Worker } from 'node:worker_threads';
import type { AppConfig } from './config.js';
import type { LaunchOutcome } from './session.js';

export function startEarlyLaunch(config: AppConfig, redirect: string): Promise<LaunchOutcome | undefined> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker(new URL('./early-worker.js', import.meta.url), {
        workerData: { config, redirect },
      });
    } catch {
      resolve(undefined);
      return;
    }
    // Not unref()'d (see instance.ts): the worker ends by itself once it has answered.
    worker.once('message', (outcome: LaunchOutcome) => resolve(outcome));
    worker.once('error', () => resolve(undefined));
    worker.once('exit', () => resolve(undefined));
  });
}
