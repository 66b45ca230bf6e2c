// The floor under live sign-out's memory per connection: a bare node:http server holding N
// Server-Sent Events responses open (no framework, no authentication), measured like
// bench/live-signout.mjs measures Latchkey (after GC, the slope from a warmed-up fifth to all).
// Prints one JSON line: { rssPerApp, heapPerApp } in bytes.   node --expose-gc bench/sse-baseline.mjs [N]
import { fork } from 'node:child_process';
import http from 'node:http';

if (process.argv[2] === 'client') {
  const [, , , url, count] = process.argv;
  const held = [];
  const n = Number(count);
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, async () => {
        const response = await fetch(url, { headers: { authorization: `Bearer ${'x'.repeat(43)}` } });
        const reader = response.body.getReader();
        await reader.read();
        held.push(reader);
      }),
    );
  }
  process.send('connected');
  setInterval(() => {}, 60_000);
} else {
  const total = Number(process.argv[2] ?? 1000);
  const open = new Set();
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write('retry: 2000\n:\n\n');
    open.add(res);
    res.once('close', () => open.delete(res));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  const settled = () => {
    globalThis.gc?.();
    globalThis.gc?.();
    return process.memoryUsage();
  };
  const clients = [];
  const connect = async (n) => {
    const child = fork(new URL(import.meta.url).pathname, ['client', url, String(n)]);
    clients.push(child);
    await new Promise((resolve) => child.once('message', resolve));
    await new Promise((resolve) => setTimeout(resolve, 500));
  };
  const warm = Math.floor(total / 5);
  await connect(warm);
  const before = settled();
  await connect(total - warm);
  const after = settled();
  const marginal = total - warm;
  console.log(
    JSON.stringify({
      apps: open.size,
      rssPerApp: (after.rss - before.rss) / marginal,
      heapPerApp: (after.heapUsed - before.heapUsed) / marginal,
    }),
  );
  for (const child of clients) child.kill();
  process.exit(0);
}
