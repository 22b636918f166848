/**
 * Where ONNX Runtime runs, measured without HTTP: the inference engine (batcher + sessions)
 * on the CIFAR-10 CNN's ONNX form (bench/compare/models.ts), single-row requests from closed
 * loops in this process, with the sessions in worker threads or on this thread
 * (`onnxInProcess`, `mscr serve --onnx-placement main`). What the hop to a worker costs a
 * request: rows/s, latency, and the CPU time of the whole process (every thread) per request.
 * Configurations alternate within each round, so a shared machine's drift hits them alike.
 *
 *   node --import tsx bench/onnx-placement-bench.ts [--seconds 5] [--rounds 3]
 *     [--concurrency 64] [--max-batch 32]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../connectors/store/index.ts';
import { initBackend } from '../runtime/backend/index.ts';
import { InferenceEngine } from '../service/engine/index.ts';
import { cifarImage, CNN, publishCnn } from './compare/models.ts';
import { percentile, round } from './harness.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '64' },
    'max-batch': { type: 'string', default: '32' },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const MAX_BATCH = Number(values['max-batch']);
const cores = Math.max(1, os.availableParallelism());

interface Config {
  name: string;
  workers: number;
  threads: number;
  inProcess: boolean;
}

const configs: Config[] = [
  { name: `workers: ${cores} x 1 thread`, workers: cores, threads: 1, inProcess: false },
  { name: `workers: 1 x ${cores} threads`, workers: 1, threads: cores, inProcess: false },
  {
    name: `main thread: 1 session x ${cores} threads`,
    workers: 1,
    threads: cores,
    inProcess: true,
  },
  { name: 'main thread: 1 session x 1 thread', workers: 1, threads: 1, inProcess: true },
];

const tmp = await mkdtemp(path.join(os.tmpdir(), 'mscr-placement-bench-'));
try {
  await initBackend('wasm');
  const store = path.join(tmp, 'models');
  await publishCnn(store, path.join(tmp, 'tfjs'));
  const { files } = await openStore(store).readVersion(CNN, 1);
  const onnx = files.get('model.onnx');
  if (onnx === undefined) throw new Error('the CNN has no model.onnx');
  const image = (await cifarImage()).input;

  const engines = new Map<Config, InferenceEngine>();
  for (const config of configs) {
    const engine = await InferenceEngine.start({
      workers: config.workers,
      backend: 'wasm',
      onnxThreads: config.threads,
      onnxInProcess: config.inProcess,
      batching: { maxBatchSize: MAX_BATCH, maxQueueDelayMs: 0 },
    });
    await engine.load(
      `${CNN}@1`,
      { 'model.onnx': onnx },
      {
        runtime: { engine: 'onnx', file: 'model.onnx' },
      },
    );
    await engine.predict(`${CNN}@1`, image.slice(), [1, 32, 32, 3]);
    engines.set(config, engine);
  }

  const results: Record<string, unknown>[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const order = r % 2 === 1 ? configs : [...configs].reverse();
    for (const config of order) {
      const engine = engines.get(config) as InferenceEngine;
      let rows = 0;
      let batches = 0;
      const off = engine.onBatch(() => batches++);
      const latencies: number[] = [];
      const cpu = process.cpuUsage();
      const started = performance.now();
      const end = started + SECONDS * 1000;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (performance.now() < end) {
            const t0 = performance.now();
            await engine.predict(`${CNN}@1`, image.slice(), [1, 32, 32, 3]);
            latencies.push(performance.now() - t0);
            rows++;
          }
        }),
      );
      const elapsed = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpu);
      off();
      latencies.sort((a, b) => a - b);
      const row = {
        round: r,
        config: config.name,
        rowsPerSecond: round(rows / elapsed, 0),
        p50Ms: round(percentile(latencies, 50), 2),
        p99Ms: round(percentile(latencies, 99), 2),
        meanBatch: round(rows / Math.max(1, batches), 1),
        cpuMicrosPerRequest: round((used.user + used.system) / Math.max(1, rows), 0),
        loadAverage1: round(os.loadavg()[0] ?? NaN, 2),
      };
      results.push(row);
      console.log(JSON.stringify(row));
    }
  }
  await Promise.all([...engines.values()].map((e) => e.close()));
} finally {
  await rm(tmp, { recursive: true, force: true });
}
