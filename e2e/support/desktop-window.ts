/**
 * Whole-flow test support for the windowed app: an Xvfb display of the test's own (what `xvfb-run`
 * does, started directly so the display lives exactly as long as the suite), real keyboard input with
 * `xdotool`, window screenshots with ImageMagick's `import`, and `acme-desktop` processes whose
 * `ACME_DESKTOP_TRACE=1` lines (one per view, with the texts GTK shows) the test waits on.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './harness.js';

const run = promisify(execFile);

export const APP_BIN = path.join(REPO_ROOT, 'packages/desktop-app/bin/acme-desktop.cjs');
export const WINDOW_TITLE = 'Acme Desktop';

/** Why the windowed suite cannot run here (a missing program or binding), or undefined. */
export function windowSuiteUnavailable(): string | undefined {
  for (const program of ['Xvfb', 'xdotool', 'import', 'xdg-open', 'xdg-mime']) {
    if (spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0)
      return `${program} is not installed (see .ci/debian-packages.txt)`;
  }
  const binding = spawnSync(process.execPath, ['-e', "require('node-gtk').require('GLib', '2.0')"], {
    cwd: path.join(REPO_ROOT, 'packages/desktop-app'),
    encoding: 'utf8',
  });
  if (binding.status !== 0)
    return `node-gtk does not load: ${binding.stderr.split('\n').slice(0, 3).join(' ')}`;
  return undefined;
}

export interface Display {
  /** `:N` */
  name: string;
  close(): Promise<void>;
}

/** Starts `Xvfb` on a free display number (`-displayfd`), 1280×800×24, no TCP. */
export async function startXvfb(): Promise<Display> {
  const child = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const number = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Xvfb gave no display within 10 s:\n${log}`)), 10_000);
    let text = '';
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) {
        clearTimeout(timer);
        resolve(text.trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Xvfb exited (${code}):\n${log}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name: `:${number}`,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface TraceEvent {
  event: string;
  view?: string;
  ms?: number;
  texts?: string[];
  /** `role: accessible name` of each control the keyboard reaches. */
  controls?: string[];
  /** `role: accessible name` of the control with the keyboard focus. */
  focus?: string;
  loaded?: boolean;
  offline?: boolean;
  [key: string]: unknown;
}

export interface AppProcess {
  child: ChildProcess;
  events: TraceEvent[];
  output(): string;
  /** The first trace event from now on (or already seen after `since`) that matches. */
  waitFor(match: (event: TraceEvent) => boolean, what: string, timeoutMs?: number): Promise<TraceEvent>;
  /** The newest view event matching, waiting for it. */
  waitForView(view: string, extra?: (event: TraceEvent) => boolean, timeoutMs?: number): Promise<TraceEvent>;
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

/** Starts `acme-desktop` with `env` (which must carry DISPLAY and the profile) and traces its views. */
export function startApp(args: string[], env: NodeJS.ProcessEnv): AppProcess {
  return traceProcess(process.execPath, [APP_BIN, ...args], env);
}

/**
 * `xdg-open <url>`, as the desktop runs it for a link: it finds the registered handler itself and
 * runs it in the foreground, so its output is the `acme-desktop` process's (which, on a cold start,
 * becomes the app: the handle traces it like any other).
 */
export function xdgOpen(url: string, env: NodeJS.ProcessEnv): AppProcess {
  return traceProcess('xdg-open', [url], env);
}

/** Its own process group, so that {@link AppProcess.kill} also ends what xdg-open started. */
function traceProcess(command: string, args: string[], env: NodeJS.ProcessEnv): AppProcess {
  const child = spawn(command, args, {
    env: { ...env, ACME_DESKTOP_TRACE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const events: TraceEvent[] = [];
  let output = '';
  let pending = '';
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      try {
        events.push(JSON.parse(line) as TraceEvent);
      } catch {
        // not a trace line
      }
    }
    for (const listener of listeners) listener();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  let consumed = 0;
  const waitFor: AppProcess['waitFor'] = (match, what, timeoutMs = 20_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        for (let i = consumed; i < events.length; i++) {
          const event = events[i] as TraceEvent;
          if (match(event)) {
            consumed = i + 1;
            done();
            resolve(event);
            return true;
          }
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`acme-desktop: no ${what} within ${timeoutMs} ms. Output:\n${output}`));
      }, timeoutMs);
      const onExit = () => {
        if (check()) return;
        done();
        reject(new Error(`acme-desktop exited before ${what}. Output:\n${output}`));
      };
      const done = () => {
        clearTimeout(timer);
        listeners.delete(listener);
        child.off('close', onExit);
      };
      const listener = () => void check();
      if (check()) return;
      listeners.add(listener);
      child.once('close', onExit);
    });
  return {
    child,
    events,
    output: () => output,
    waitFor,
    waitForView: (view, extra = () => true, timeoutMs) =>
      waitFor(
        (event) => event.event === 'view' && event.view === view && extra(event),
        `"${view}" view`,
        timeoutMs,
      ),
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-(child.pid as number), 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
      await exited;
    },
  };
}

/** `xdotool` on the test's display. */
export async function xdotool(display: string, args: string[]): Promise<string> {
  const { stdout } = await run('xdotool', args, {
    env: { ...process.env, DISPLAY: display },
    timeout: 10_000,
  });
  return stdout.trim();
}

/** The X window id of the app's window (waits until it is mapped). */
export async function findWindow(display: string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ids = await xdotool(display, ['search', '--onlyvisible', '--name', `^${WINDOW_TITLE}$`]).catch(
      () => '',
    );
    const id = ids.split('\n').filter(Boolean).at(-1);
    if (id) return id;
    if (Date.now() > deadline) throw new Error(`no "${WINDOW_TITLE}" window on ${display}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Keyboard focus to the window (no window manager on Xvfb: XSetInputFocus), then the keys. */
export async function typeInto(display: string, window: string, text: string): Promise<void> {
  await xdotool(display, ['windowfocus', '--sync', window]);
  await xdotool(display, ['type', '--delay', '20', text]);
}

export async function pressKeys(display: string, window: string, ...keys: string[]): Promise<void> {
  await xdotool(display, ['windowfocus', '--sync', window]);
  await xdotool(display, ['key', '--delay', '60', ...keys]);
}

/**
 * Photographs the window (`import -window <id>`: the window with its GTK-drawn title bar) into
 * test-results/<suite>/<name>.png and, for the README, into docs/journey/ when that picture is
 * missing or `LATCHKEY_UPDATE_JOURNEY=1`, like the browser pages' `shoot`.
 */
export async function shootWindow(
  display: string,
  window: string,
  suite: string,
  name: string,
): Promise<string> {
  const results = path.join(REPO_ROOT, 'test-results', suite);
  await mkdir(results, { recursive: true });
  const file = path.join(results, `${name}.png`);
  // A moment for GTK to paint the view the trace announced (it traces right after laying it out).
  await new Promise((resolve) => setTimeout(resolve, 250));
  await run('import', ['-window', window, file], {
    env: { ...process.env, DISPLAY: display },
    timeout: 15_000,
  });
  const target = path.join(REPO_ROOT, 'docs', 'journey', `${name}.png`);
  if (process.env.LATCHKEY_UPDATE_JOURNEY === '1' || !existsSync(target)) {
    await mkdir(path.dirname(target), { recursive: true });
    await copyFile(file, target);
  }
  return file;
}
