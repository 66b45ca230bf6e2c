// The organization's IdP for the federated sign-in case: the stand-in Google (packages/standin-idp)
// in its own process, so its CPU is charged neither to Latchkey nor to the load generator.
// BENCH_CALLBACK is Latchkey's /upstream/callback. IPC: `ready` (with the issuer), then `stats`.
import { serveIpc, UPSTREAM_CLIENT, UPSTREAM_USER } from './lib.mjs';

const { startStandinIdp } = await import(
  new URL('../packages/standin-idp/dist/index.js', import.meta.url).href
);

const idp = await startStandinIdp({
  profile: 'google',
  clients: [
    {
      client_id: UPSTREAM_CLIENT.id,
      client_secret: UPSTREAM_CLIENT.secret,
      redirect_uris: [process.env.BENCH_CALLBACK],
    },
  ],
  users: [UPSTREAM_USER],
});

serveIpc({
  stats: () => ({ cpu: process.cpuUsage() }),
});
process.on('SIGTERM', () => idp.close().finally(() => process.exit(0)));
process.send?.({ type: 'ready', issuer: idp.issuer });
