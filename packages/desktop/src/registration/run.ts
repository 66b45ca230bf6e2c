import { promisify } from 'node:util';

/**
 * `execFile`, promised. node:child_process is loaded on the first call: registering a scheme is
 * rare, and a silent sign-in (every app start) never needs it.
 */
export async function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; windowsHide?: boolean },
): Promise<{ stdout: string; stderr: string }> {
  const { execFile } = await import('node:child_process');
  return promisify(execFile)(file, args, options);
}
