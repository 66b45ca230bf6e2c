import { parseArgs } from 'node:util';
import { currentTotp, DEMO_USERS, startDemo } from './demo.js';

const USAGE = `Usage: npm run demo [-- --port 4000] [--idp-port 4100] [--api-port 4200] [--data data/demo] [--flow loopback|scheme|device] [--cli] [--no-login]
       npm run demo:otp <email>      the current 2-step verification code of a demo user

Starts the stand-in Google IdP, Latchkey and the Acme API on 127.0.0.1 (SQLite in --data, kept between
runs), then opens Acme Desktop's window (with a display; --cli or none: latchkey-desktop in this
terminal): in the browser the first time, silently afterwards.
--flow scheme registers com.acme.desktop: with the desktop (xdg-mime; the window does it by itself);
--no-login only starts the servers.
Ctrl-C stops everything.
`;

async function otp(email: string | undefined): Promise<number> {
  const found = email ? await currentTotp(email) : undefined;
  if (!found) {
    process.stderr.write(
      `${email ? `${email} is not a demo user. ` : ''}Usage: npm run demo:otp <${DEMO_USERS.map((u) => u.email).join('|')}>\n`,
    );
    return 2;
  }
  process.stdout.write(`${found.code}\n`);
  if (process.stdout.isTTY) process.stderr.write(`(valid for ${found.secondsLeft} more seconds)\n`);
  return 0;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      allowPositionals: true,
      options: {
        port: { type: 'string', default: '4000' },
        'idp-port': { type: 'string', default: '4100' },
        'api-port': { type: 'string', default: '4200' },
        data: { type: 'string', default: 'data/demo' },
        flow: { type: 'string' },
        cli: { type: 'boolean', default: false },
        'no-login': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
  }
  try {
    parsed = parse();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals[0] === 'otp') return otp(positionals[1]);
  if (positionals.length > 0) {
    process.stderr.write(`Unknown argument ${positionals[0]}\n\n${USAGE}`);
    return 2;
  }
  const port = Number(values.port);
  const idpPort = Number(values['idp-port']);
  const apiPort = Number(values['api-port']);
  const flow = values.flow;
  if (
    !Number.isInteger(port) ||
    !Number.isInteger(idpPort) ||
    !Number.isInteger(apiPort) ||
    (flow !== undefined && flow !== 'loopback' && flow !== 'scheme' && flow !== 'device')
  ) {
    process.stderr.write(USAGE);
    return 2;
  }

  const demo = await startDemo({
    dataDir: values.data,
    port,
    idpPort,
    ...(flow ? { flow } : {}),
    apiPort,
    app: values.cli ? 'cli' : 'auto',
    login: !values['no-login'],
    out: process.stdout,
    env: process.env,
  });
  return new Promise<number>((resolve) => {
    let signals = 0;
    let firstAt = 0;
    const onSignal = () => {
      signals += 1;
      // `npm run` passes the terminal's Ctrl-C on as well: one press can arrive twice at once.
      if (signals > 1) {
        if (Date.now() - firstAt > 1_000) resolve(1); // a deliberate second Ctrl-C: leave now
        return;
      }
      firstAt = Date.now();
      process.stdout.write('\nStopping the demo…\n');
      demo.stop().then(
        () => {
          process.stdout.write('Stopped. The data stays for the next run.\n');
          resolve(0);
        },
        (error: unknown) => {
          process.stderr.write(`While stopping: ${(error as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    void demo.signedIn.then((code) => {
      if (code === 0 && signals === 0)
        process.stdout.write('\nLatchkey keeps running for you to try more. Ctrl-C stops everything.\n');
    });
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`latchkey demo: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
