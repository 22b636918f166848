/**
 * Where the time goes in V8 CPU profiles (`node --cpu-prof`, e.g. from `BENCH_CPU_PROF=DIR
 * npm run bench`): per profile (one per thread), the busy time and the functions and files
 * with the most self time. Idle and GC are reported apart.
 *
 *   node --import tsx bench/profile-summary.ts DIR_OR_FILES... [--top 25]
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
const top = Number(values.top);

async function profileFiles(inputs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const input of inputs) {
    if ((await stat(input)).isDirectory()) {
      const names = (await readdir(input)).filter((n) => n.endsWith('.cpuprofile')).sort();
      out.push(...names.map((n) => path.join(input, n)));
    } else out.push(input);
  }
  return out;
}

/** A short place for a frame: package name or project-relative file. */
function placeOf(url: string): string {
  if (url === '') return '(native/V8)';
  const clean = url.replace(/^file:\/\//, '');
  const nm = clean.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = clean.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? clean);
  }
  if (clean.startsWith('node:')) return clean;
  const root = path.resolve(import.meta.dirname, '..');
  return clean.startsWith(root) ? path.relative(root, clean) : clean;
}

function pct(part: number, whole: number): string {
  return `${((part / whole) * 100).toFixed(1).padStart(5)} %`;
}

for (const file of await profileFiles(positionals)) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  let idle = 0;
  let gc = 0;
  let busy = 0;
  const byFunction = new Map<string, number>();
  const byPlace = new Map<string, number>();
  for (const [id, us] of self) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    if (frame.functionName === '(garbage collector)') gc += us;
    busy += us;
    const place = placeOf(frame.url);
    const key = `${frame.functionName || '(anonymous)'}  ${place}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    byPlace.set(place, (byPlace.get(place) ?? 0) + us);
  }
  const wall = profile.endTime - profile.startTime;
  console.log(`\n${file}`);
  console.log(
    `  wall ${(wall / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(1)} s, GC ${(gc / 1e6).toFixed(2)} s (${pct(gc, busy)} of busy)`,
  );
  console.log('  self time by file or package:');
  for (const [place, us] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    console.log(`    ${pct(us, busy)}  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${place}`);
  }
  console.log('  self time by function:');
  for (const [key, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`    ${pct(us, busy)}  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${key}`);
  }
}
