/**
 * Throughput of the inference engine on a CIFAR-10-sized CNN (input [32,32,3]), against
 * `model.predict` in the main thread. Not a test: a measurement to read.
 *
 *   node --import tsx service/engine/engine.bench.ts [--seconds 2] [--repeats 3]
 *     [--workers 1,2] [--concurrency 1,8,32] [--delay MS] [--in-flight N] [--no-main-thread]
 *
 * Clients are closed loops: each sends one single-row request, waits for its answer, repeats.
 * Prints, per configuration, the median and best rows/s over `--repeats` runs of `--seconds`,
 * the median latency and the mean batch size. On a busy machine compare configurations of the
 * same run only; the best of the repeats is the least disturbed one. `--delay` (maxQueueDelayMs)
 * and `--in-flight` (batches in flight per worker) override the engine's defaults.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { modelToFiles } from '../../connectors/ms/artifacts.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import { InferenceEngine, type BatchingOptions, type EngineBatchStats } from './index.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1,2' },
    concurrency: { type: 'string', default: '1,8,32' },
    delay: { type: 'string' },
    'in-flight': { type: 'string' },
    'no-main-thread': { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const repeats = Number(values.repeats);
const workerCounts = values.workers.split(',').map(Number);
const concurrencies = values.concurrency.split(',').map(Number);
const KEY = 'cifar@1';
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

function median(list: number[]): number {
  const sorted = [...list].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function report(label: string, rates: number[], latencies: number[], extra = ''): void {
  const rate = `${median(rates).toFixed(0)} rows/s (best ${Math.max(...rates).toFixed(0)})`;
  const p50 = `p50 ${median(latencies).toFixed(1)} ms`;
  console.log(`${label.padEnd(50)} ${rate.padEnd(26)} ${p50.padEnd(14)} ${extra}`);
}

/** Runs `once` (which handles `rows` rows) for `seconds`, `repeats` times. */
async function measure(
  label: string,
  concurrency: number,
  rowsPerCall: number,
  once: () => Promise<void> | void,
  extra: () => string = () => '',
): Promise<void> {
  const latencies: number[] = [];
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let rows = 0;
    const start = performance.now();
    const deadline = start + seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          await once();
          latencies.push(performance.now() - t);
          rows += rowsPerCall;
        }
      }),
    );
    rates.push((rows / (performance.now() - start)) * 1000);
  }
  report(label, rates, latencies, extra());
}

async function mainThread(model: tf.LayersModel, batch: number): Promise<void> {
  const x = tf.randomUniform([batch, 32, 32, 3]);
  const once = (): void => {
    tf.tidy(() => (model.predict(x, { batchSize: batch }) as tf.Tensor).dataSync());
  };
  for (let i = 0; i < 3; i++) once(); // warm-up
  await measure(`main thread model.predict, batch ${batch}`, 1, batch, once);
  x.dispose();
}

async function engineRun(
  files: Map<string, Uint8Array>,
  workers: number,
  batching: boolean,
): Promise<void> {
  const options: BatchingOptions = batching ? {} : { enabled: false };
  if (values.delay !== undefined) options.maxQueueDelayMs = Number(values.delay);
  if (values['in-flight'] !== undefined) {
    options.maxInFlightBatches = Number(values['in-flight']) * workers;
  }
  const engine = await InferenceEngine.start({ workers, batching: options });
  await engine.load(KEY, files);
  const sample = Float32Array.from({ length: ROW }, () => Math.random());
  const predict = async (): Promise<void> => {
    await engine.predict(KEY, sample.slice(), [1, 32, 32, 3]);
  };
  const batches: EngineBatchStats[] = [];
  engine.onBatch((s) => batches.push(s));
  // Warm-up: every worker meets the batch shapes it will see.
  for (let i = 0; i < 3; i++) await Promise.all(Array.from({ length: 32 }, predict));
  for (const concurrency of concurrencies) {
    batches.length = 0;
    const label =
      `engine ${workers} worker${workers > 1 ? 's' : ' '}, ` +
      `batching ${batching ? 'on ' : 'off'}, concurrency ${concurrency}`;
    await measure(label, concurrency, 1, predict, () => {
      const rows = batches.reduce((sum, b) => sum + b.size, 0);
      return `mean batch ${(rows / Math.max(1, batches.length)).toFixed(1)}`;
    });
  }
  await engine.close();
}

const backend = await initBackend('wasm');
console.log(
  `backend ${backend.name} (threads ${backend.threads}, simd ${backend.simd}); ` +
    `${repeats} x ${seconds} s per configuration`,
);
const model = cifarCnn();
if (!values['no-main-thread']) {
  await mainThread(model, 1);
  await mainThread(model, 32);
}
const files = await modelToFiles(model);
for (const workers of workerCounts) {
  for (const batching of [false, true]) await engineRun(files, workers, batching);
}
