// Reads a V8 CPU profile from `node bench/run.mjs --cpu-prof` and prints where the busy time went:
// the functions with the most self time, the same summed per package or file, and the project's own
// functions by inclusive time (what they and everything they call cost). Idle samples are left out,
// so the shares are of the time the server was actually computing.
//
//   node bench/profile-summary.mjs bench/profiles/2-latchkey-sqlite.cpuprofile [top=25] [last-ms]
//
// `last-ms`: only the samples of the profile's last that many milliseconds. A server's profile runs
// from its start to its stop, and the measured load is at the end: this leaves out the start (module
// loading and compiling) and the warm-up.
import { readFileSync } from 'node:fs';
import { codeLocation } from './lib.mjs';

const [file, topArg, lastArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top] [last-ms]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parents = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parents.set(c, n.id);

const isOwn = (url) => !/node_modules|^node:/.test(url) && /\/(?:dist|src)\//.test(url);
const nameOf = (callFrame) =>
  `${callFrame.functionName || '(anonymous)'} ${codeLocation(callFrame.url)}:${callFrame.lineNumber + 1}`;

// Sample times: the deltas summed from the profile's start.
const times = [];
let clock = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  clock += profile.timeDeltas[i] ?? 0;
  times.push(clock);
}
const from = lastArg ? profile.endTime - Number(lastArg) * 1000 : Number.NEGATIVE_INFINITY;

const self = new Map();
const byPlace = new Map();
const inclusive = new Map();
let busy = 0;
for (let i = 0; i < profile.samples.length; i++) {
  if (times[i] < from) continue;
  const leaf = nodes.get(profile.samples[i]);
  if (leaf.callFrame.functionName === '(idle)') continue;
  const t = profile.timeDeltas[i] ?? 0;
  busy += t;
  const place = codeLocation(leaf.callFrame.url);
  self.set(nameOf(leaf.callFrame), (self.get(nameOf(leaf.callFrame)) ?? 0) + t);
  byPlace.set(place, (byPlace.get(place) ?? 0) + t);
  // Each own function once per sample, however deep it recurses.
  const seen = new Set();
  for (let id = leaf.id; id !== undefined; id = parents.get(id)) {
    const { callFrame } = nodes.get(id);
    if (!isOwn(callFrame.url)) continue;
    const name = nameOf(callFrame);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + t);
  }
}

function print(title, map) {
  console.log(title);
  for (const [k, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((100 * t) / busy).toFixed(1).padStart(5)}%  ${k}`);
  }
}
console.log(`${file}: ${(busy / 1000).toFixed(0)} ms busy${lastArg ? ` in the last ${lastArg} ms` : ''}`);
print('\nself time by function', self);
print('\nself time by package / file', byPlace);
print("\nthe project's functions by inclusive time", inclusive);
