#!/usr/bin/env node
// Installs everything the tests need, running the setup scripts side by side where they do not
// compete: Go builds are CPU-bound and already use every core, so they run one at a time;
// apt-get holds dpkg's lock, so Debian installs run one at a time; pip and image downloads
// overlap with both. On a cold 2-core machine this cuts the wall time by the length of the
// shorter lane; warm, every script returns in a second or two.
//
// Usage: node scripts/setup.mjs [--only name,name] [--list]
// Each step's output is prefixed with its name; the first failure is reported with its log
// and the exit code is non-zero once the steps already running have finished.
import { spawn } from 'node:child_process';

/**
 * Steps: a script, the exclusive resources it holds while it runs, and the steps it needs
 * first. A step that uses apt-get for a moment and Go for long should split the two.
 */
const STEPS = [
  { name: 'tools', script: 'scripts/setup-tools.mjs', holds: ['go'], needs: [] },
  { name: 'kube', script: 'scripts/setup-kube.mjs', holds: ['go'], needs: [] },
  { name: 'python', script: 'scripts/setup-python.mjs', holds: [], needs: [] },
  { name: 'validators', script: 'scripts/setup-validators.mjs', holds: [], needs: [] },
  { name: 'browser', script: 'scripts/setup-browser.mjs', holds: ['apt'], needs: [] },
  { name: 'brokers', script: 'scripts/setup-brokers.mjs', holds: ['apt'], needs: [] },
  // The container images (buildah, mmdebstrap): its apt-get install waits for dpkg's lock by
  // itself and is over in seconds; the MinIO and k6 images need the binaries `tools` builds.
  { name: 'images', script: 'scripts/build-images.mjs', holds: [], needs: ['tools'] },
];

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
if (args.includes('--list')) {
  for (const step of STEPS) {
    console.log(
      `${step.name.padEnd(12)} ${step.script}  holds: ${step.holds.join(',') || '-'}  needs: ${step.needs.join(',') || '-'}`,
    );
  }
  process.exit(0);
}
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? new Set((args[onlyIndex + 1] ?? '').split(',')) : undefined;
const steps = STEPS.filter((step) => only === undefined || only.has(step.name));
if (steps.length === 0) {
  console.error(`setup: no step named ${[...(only ?? [])].join(', ')}; see --list`);
  process.exit(2);
}

const started = Date.now();
const state = new Map(steps.map((step) => [step.name, 'waiting']));
const busy = new Set();
const failures = [];
const seconds = (ms) => `${Math.round(ms / 1000)} s`;

function ready(step) {
  return (
    state.get(step.name) === 'waiting' &&
    step.holds.every((resource) => !busy.has(resource)) &&
    step.needs.every((need) => !state.has(need) || state.get(need) === 'done')
  );
}

function prefixLines(name, stream, sink) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) sink.write(`[${name}] ${line}\n`);
  });
  stream.on('end', () => {
    if (pending !== '') sink.write(`[${name}] ${pending}\n`);
  });
}

function run(step) {
  state.set(step.name, 'running');
  for (const resource of step.holds) busy.add(resource);
  const begin = Date.now();
  const child = spawn(process.execPath, [step.script], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  prefixLines(step.name, child.stdout, process.stdout);
  prefixLines(step.name, child.stderr, process.stderr);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      for (const resource of step.holds) busy.delete(resource);
      const took = seconds(Date.now() - begin);
      if (code === 0) {
        state.set(step.name, 'done');
        console.log(`[${step.name}] ok (${took})`);
      } else {
        state.set(step.name, 'failed');
        failures.push(`${step.name} (${step.script}) exited ${code ?? signal} after ${took}`);
      }
      resolve();
    });
  });
}

const running = new Set();
for (;;) {
  if (failures.length === 0) {
    for (const step of steps) {
      if (!ready(step)) continue; // checked one by one: run() takes the resources at once
      const job = run(step).then(() => running.delete(job));
      running.add(job);
    }
  }
  if (running.size === 0) break;
  await Promise.race(running);
}

const blocked = steps.filter((step) => state.get(step.name) === 'waiting').map((s) => s.name);
if (failures.length > 0) {
  console.error(`setup: failed: ${failures.join('; ')}`);
  if (blocked.length > 0) console.error(`setup: not run because of it: ${blocked.join(', ')}`);
  process.exit(1);
}
console.log(`setup: all ${steps.length} steps ready in ${seconds(Date.now() - started)}`);
