// Reads a V8 CPU profile from `node bench/run.mjs --cpu-prof` and prints where the busy time went:
// the functions with the most self time, then the same summed per package or file. Idle samples
// are left out, so the shares are of the time the server was actually computing.
//
//   node bench/profile-summary.mjs bench/profiles/2-latchkey-sqlite.cpuprofile [top=25]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));

/** `node_modules/<pkg>/…` → `<pkg>`, a project file → its path under dist/ or src/. */
function where(url) {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const own = /\/(?:dist|src)\/(.*)$/.exec(url);
  return own ? own[1] : url || '(native)';
}

const self = new Map();
const byPlace = new Map();
let busy = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const { callFrame } = nodes.get(profile.samples[i]);
  if (callFrame.functionName === '(idle)') continue;
  const t = profile.timeDeltas[i] ?? 0;
  busy += t;
  const place = where(callFrame.url);
  const name = `${callFrame.functionName || '(anonymous)'} ${place}:${callFrame.lineNumber + 1}`;
  self.set(name, (self.get(name) ?? 0) + t);
  byPlace.set(place, (byPlace.get(place) ?? 0) + t);
}

function print(title, map) {
  console.log(title);
  for (const [k, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * t) / busy).toFixed(1).padStart(5)}%  ${k}`);
  }
}
console.log(`${file}: ${(busy / 1000).toFixed(0)} ms busy`);
print('\nself time by function', self);
print('\nself time by package / file', byPlace);
