/**
 * Throughput of the inference engine on a CIFAR-10-sized CNN (input [32,32,3]), against
 * `model.predict` in the main thread. Not a test: a measurement to read.
 *   node --import tsx service/engine/engine.bench.ts [--seconds 3] [--workers 1,2] [--concurrency 1,8,32]
 * Clients are closed loops: each sends one single-row request, waits for the answer, repeats.
 * Prints rows/s and the median latency of every configuration. On a busy machine, compare
 * configurations measured in the same run only.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { modelToFiles } from '../../connectors/ms/artifacts.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import { InferenceEngine, type EngineBatchStats } from './index.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1,2' },
    concurrency: { type: 'string', default: '1,8,32' },
    delay: { type: 'string' },
    'in-flight': { type: 'string' },
    'main-thread': { type: 'boolean', default: true },
    'no-main-thread': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const workerCounts = values.workers.split(',').map(Number);
const concurrencies = values.concurrency.split(',').map(Number);
const ROW = 32 * 32 * 3;

function cifarCnn(): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [32, 32, 3],
        filters: 32,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function report(label: string, rows: number, ms: number, latencies: number[], extra = ''): void {
  const rate = (rows / ms) * 1000;
  const p50 = latencies.length > 0 ? `${median(latencies).toFixed(1)} ms` : '-';
  console.log(
    `${label.padEnd(44)} ${rate.toFixed(0).padStart(7)} rows/s   p50 ${p50.padStart(9)}  ${extra}`,
  );
}

function mainThread(model: tf.LayersModel, batch: number): void {
  const x = tf.randomUniform([batch, 32, 32, 3]);
  const once = (): void => {
    tf.tidy(() => (model.predict(x, { batchSize: batch }) as tf.Tensor).dataSync());
  };
  for (let i = 0; i < 3; i++) once(); // warm-up
  const latencies: number[] = [];
  const start = performance.now();
  let rows = 0;
  while (performance.now() - start < seconds * 1000) {
    const t = performance.now();
    once();
    latencies.push(performance.now() - t);
    rows += batch;
  }
  report(`main thread model.predict, batch ${batch}`, rows, performance.now() - start, latencies);
  x.dispose();
}

async function engineRun(
  files: Map<string, Uint8Array>,
  workers: number,
  batching: boolean,
): Promise<void> {
  const engine = await InferenceEngine.start({
    workers,
    batching: {
      ...(batching ? {} : { enabled: false }),
      ...(values.delay === undefined ? {} : { maxQueueDelayMs: Number(values.delay) }),
      ...(values['in-flight'] === undefined
        ? {}
        : { maxInFlightBatches: Number(values['in-flight']) * workers }),
    },
  });
  await engine.load('cifar@1', files);
  const sample = Float32Array.from({ length: ROW }, () => Math.random());
  const batches: EngineBatchStats[] = [];
  engine.onBatch((s) => batches.push(s));
  // Warm-up: every worker compiles its kernels for the shapes it sees.
  await Promise.all(
    Array.from({ length: 8 * workers }, () =>
      engine.predict('cifar@1', sample.slice(), [1, 32, 32, 3]),
    ),
  );
  for (const concurrency of concurrencies) {
    batches.length = 0;
    const latencies: number[] = [];
    let rows = 0;
    const start = performance.now();
    const deadline = start + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          await engine.predict('cifar@1', sample.slice(), [1, 32, 32, 3]);
          latencies.push(performance.now() - t);
          rows++;
        }
      }),
    );
    const ms = performance.now() - start;
    const meanBatch = batches.reduce((sum, b) => sum + b.size, 0) / Math.max(1, batches.length);
    report(
      `engine ${workers} worker${workers > 1 ? 's' : ''}, batching ${batching ? 'on ' : 'off'}, concurrency ${concurrency}`,
      rows,
      ms,
      latencies,
      `mean batch ${meanBatch.toFixed(1)}`,
    );
  }
  await engine.close();
}

const backend = await initBackend('wasm');
console.log(
  `backend ${backend.name} (threads ${backend.threads}, simd ${backend.simd}); ${seconds} s per row`,
);
const model = cifarCnn();
if (!values['no-main-thread']) {
  mainThread(model, 1);
  mainThread(model, 32);
}
const files = await modelToFiles(model);
for (const workers of workerCounts) {
  for (const batching of [false, true]) await engineRun(files, workers, batching);
}
