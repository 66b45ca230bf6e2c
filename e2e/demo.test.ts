/**
 * `npm run demo` (README's one demo command): starts, one sign-in is driven through it in Chromium
 * (Google stand-in, password, 2-step code from `npm run demo:otp`), Ctrl-C stops everything; a second
 * run keeps the data and signs in silently.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS } from '../packages/demo/src/demo.js';
import { launchBrowser, waitForText } from '../packages/server/src/test-support/browser.js';
import { buildAll } from './support/build.js';
import {
  type BrowserHook,
  cleanUp,
  freePort,
  REPO_ROOT,
  shoot,
  startBrowserHook,
  tempDir,
} from './support/harness.js';

const ALICE = DEMO_USERS[0] as (typeof DEMO_USERS)[0];

interface Demo {
  child: ChildProcess;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** What the terminal does on Ctrl-C: SIGINT to every process of the foreground group (npm, sh, node). */
  ctrlC(): void;
}

function startDemo(command: string[], env: Record<string, string>): Demo {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(base)) if (key.startsWith('LATCHKEY_')) delete base[key];
  delete base.DISPLAY;
  delete base.WAYLAND_DISPLAY;
  const child = spawn(command[0] as string, command.slice(1), {
    cwd: REPO_ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, like a command in a terminal: Ctrl-C signals the whole group.
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    exited,
    ctrlC: () => process.kill(-(child.pid as number), 'SIGINT'),
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output)) {
        if (child.exitCode !== null) throw new Error(`The demo exited before ${pattern}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`No ${pattern} within ${timeoutMs} ms:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm run demo', () => {
  let browser: Browser;
  let hook: BrowserHook;
  let dataDir: string;
  let ports: { port: number; idpPort: number };
  let args: string[];
  const running: Demo[] = [];

  beforeAll(async () => {
    await buildAll();
    [browser, hook, dataDir] = await Promise.all([
      launchBrowser(),
      startBrowserHook(),
      tempDir('latchkey-demo-'),
    ]);
    ports = { port: await freePort(), idpPort: await freePort() };
    args = ['--data', dataDir, '--port', String(ports.port), '--idp-port', String(ports.idpPort)];
  }, 240_000);

  afterAll(async () => {
    for (const demo of running) {
      if (demo.child.exitCode !== null || demo.child.signalCode !== null) continue;
      demo.ctrlC();
      await Promise.race([demo.exited, new Promise((r) => setTimeout(r, 15_000))]);
    }
    await browser?.close();
    await hook?.close();
    await cleanUp();
  });

  async function stopWithCtrlC(demo: Demo) {
    demo.ctrlC();
    const { code, signal } = await demo.exited;
    // The demo exits 0; npm, when it ran the demo, ends itself with the SIGINT it got, as in a terminal.
    if (signal === null) expect(code, demo.output()).toBe(0);
    else expect(signal).toBe('SIGINT');
    expect(demo.output()).toContain('Stopped. The data stays for the next run.');
    expect(await portOpen(ports.port)).toBe(false);
    expect(await portOpen(ports.idpPort)).toBe(false);
  }

  it('starts everything, signs Acme Desktop in through the browser, and stops on Ctrl-C', async () => {
    const demo = startDemo(['npm', 'run', 'demo', '--', ...args], hook.env);
    running.push(demo);
    await demo.waitFor(/Ctrl-C stops everything/, 120_000);
    expect(demo.output()).toContain(`password "${ALICE.password}"`);
    expect(demo.output()).toContain('npm run demo:otp alice@acme.test');

    const page = await browser.newPage({ viewport: { width: 760, height: 620 } });
    await page.goto(await hook.next(30_000));
    await page.getByLabel('Work email').fill(ALICE.email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.fill('#password', ALICE.password);
    await page.click('#next');
    await page.waitForSelector('form[data-step=totp]');
    // The code, as README tells the reader to get it.
    const otp = await promisify(execFile)(
      process.execPath,
      ['packages/demo/bin/latchkey-demo.js', 'otp', ALICE.email],
      {
        cwd: REPO_ROOT,
      },
    );
    expect(otp.stdout.trim()).toMatch(/^\d{6}$/);
    await page.fill('#code', otp.stdout.trim());
    await page.click('#next');
    await waitForText(page.locator('#handoff'), 'Continue to Acme Desktop');
    await page.locator('#handoff').click();
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await waitForText(page.locator('h1'), 'Signed in');
    await shoot(page, 'demo', 'signed-in');
    await page.close();

    await demo.waitFor(new RegExp(`Signed in as ${ALICE.email.replace('.', '\\.')}\\.`));
    await demo.waitFor(/Latchkey keeps running/);
    await stopWithCtrlC(demo);

    // Whose line is whose: the processes' lines carry their names; the demo's own lines none.
    const lines = demo.output().split('\n');
    expect(lines).toContain(`[acme-desktop] Signed in as ${ALICE.email}.`);
    expect(lines.filter((line) => line.startsWith('[stand-in idp] '))).toEqual([
      `[stand-in idp] Stand-in Google IdP at http://127.0.0.1:${ports.idpPort}: a demo stand-in that keeps its state in memory (a restart forgets its sessions and tokens); 1 user, clients: latchkey-demo`,
    ]);
    // The engine's warnings (its in-memory store, its Node.js version) are not the reader's problem.
    expect(demo.output()).not.toMatch(/MUST change|in-memory adapter|oidc-provider WARNING/);
    const unlabelled = lines.filter(
      (line) => /Waiting for the browser|Signed in as/.test(line) && !line.startsWith('['),
    );
    expect(unlabelled).toEqual([]);
  }, 240_000);

  it('a second run keeps the data and signs in silently', async () => {
    const demo = startDemo([process.execPath, 'packages/demo/bin/latchkey-demo.js', ...args], hook.env);
    running.push(demo);
    await demo.waitFor(/signed in silently as alice@acme\.test/);
    await expect(hook.next(300)).rejects.toThrow(/no URL/);
    await stopWithCtrlC(demo);
  });
});
