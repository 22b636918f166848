/**
 * One `mscr serve --engine onnx` under binary-tensor load at one concurrency, for a quick
 * before/after or a CPU profile; rounds alternate between the forms asked for, so a noisy
 * machine moves both alike. Prints one JSON line per round: req/s, latency percentiles, and
 * the server's CPU per request (every thread of every process in its tree).
 *
 *   node --import tsx bench/one-server.ts
 *
 * Environment: FORMS (default `source,built`: the TypeScript through tsx as `npm start`
 * runs it, and compiled by tsc as the container image runs it, bench/compare/built.ts),
 * ARGS (extra `mscr serve` flags, default `--onnx-placement main`), CONC (default 32), SECS
 * (default 8), ROUNDS (default 3), PROF=DIR (`node --cpu-prof` into DIR).
 */
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../connectors/store/index.ts';
import { initBackend } from '../runtime/backend/index.ts';
import { buildCheckout } from './compare/built.ts';
import { binaryPayload, CNN, cifarImage, publishCnn } from './compare/models.ts';
import {
  root,
  runLoad,
  startMscrServe,
  stopChild,
  stopChildrenOnExit,
  ticksToSeconds,
  treeTicks,
} from './harness.ts';

const env = process.env;
const forms = (env.FORMS ?? 'source,built').split(',').map((f) => f.trim());
for (const form of forms) {
  if (form !== 'source' && form !== 'built')
    throw new Error(`FORMS lists source and/or built, got ${JSON.stringify(form)}`);
}
const args = (env.ARGS ?? '--onnx-placement main').split(' ').filter(Boolean);
const concurrency = Number(env.CONC ?? 32);
const seconds = Number(env.SECS ?? 8);
const rounds = Number(env.ROUNDS ?? 3);

const tmp = await mkdtemp(path.join(os.tmpdir(), 'mscr-one-server-'));
stopChildrenOnExit(() => rmSync(tmp, { recursive: true, force: true }));
const store = path.join(tmp, 'models');
await initBackend('wasm');
await publishCnn(store, path.join(tmp, 'cnn-tfjs'));
const { manifest } = await openStore(store).readVersion(CNN, 1);
const image = await cifarImage();
const payload = binaryPayload(image.input, [1, 32, 32, 3], manifest.inputs[0]?.name ?? 'image');
const checkouts: Record<string, string> = {
  source: root,
  ...(forms.includes('built') ? { built: buildCheckout(root, path.join(tmp, 'built')) } : {}),
};

for (let round = 1; round <= rounds; round++) {
  for (const form of forms) {
    const profile = env.PROF ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(env.PROF)] : [];
    const server = await startMscrServe(
      `mscr (${form})`,
      checkouts[form] ?? root,
      store,
      ['--engine', 'onnx', '--max-batch-size', '32', '--max-queue-delay', '0', ...args],
      profile,
    );
    const url = `${server.url}/v2/models/${CNN}/infer`;
    await runLoad(url, payload, concurrency, 2); // warm-up, not recorded
    const before = await treeTicks(server.child.pid);
    const result = await runLoad(url, payload, concurrency, seconds);
    const after = await treeTicks(server.child.pid);
    const cpuSeconds = ticksToSeconds(after.main + after.other - before.main - before.other);
    console.log(
      JSON.stringify({
        round,
        form,
        args,
        concurrency,
        requestsPerSecond: result.requestsPerSecond,
        latencyMs: result.latencyMs,
        serverCpuMicrosPerRequest: Math.round((cpuSeconds * 1e6) / Math.max(1, result.ok)),
        failed: result.errors + result.non2xx,
        loadAverage1: os.loadavg()[0],
      }),
    );
    await stopChild(server.child);
  }
}
rmSync(tmp, { recursive: true, force: true });
