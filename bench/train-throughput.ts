/**
 * `npm run bench:train`: training throughput (samples per second) of the CIFAR-10 models on
 * the WebAssembly backend (with mscr's Conv2DBackpropFilter kernel) and on the plain
 * JavaScript backend, measured in one run on the same data, so the ratio is meaningful on
 * a noisy shared machine. Writes bench/results/train-throughput.json and prints a table.
 *
 * Options (environment): BENCH_STEPS (timed steps on wasm, default 20), BENCH_CPU_STEPS
 * (default 2: the JS backend is slow), BENCH_BATCH (default 32), BENCH_DATA (image folder,
 * default ../shared/data/cifar10/train when present, else generated images),
 * BENCH_MODELS (default cifar10-cnn,densenet).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { getArchitecture } from '../model/architectures/index.ts';
import { initBackend, type BackendInfo } from '../runtime/backend/index.ts';
import { loadImageFolder, syntheticImages } from '../model/data/index.ts';
import type { ImageDataset } from '../model/data/index.ts';

const steps = Number(process.env.BENCH_STEPS ?? 20);
const cpuSteps = Number(process.env.BENCH_CPU_STEPS ?? 2);
const batchSize = Number(process.env.BENCH_BATCH ?? 32);
const models = (process.env.BENCH_MODELS ?? 'cifar10-cnn,densenet').split(',');
const defaultData = new URL('../../shared/data/cifar10/train', import.meta.url).pathname;
const dataPath = process.env.BENCH_DATA ?? (existsSync(defaultData) ? defaultData : undefined);

interface Row {
  model: string;
  backend: string;
  steps: number;
  batchSize: number;
  samplesPerSecond: number;
  stepMs: { p50: number; p95: number; max: number };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function loadData(): Promise<ImageDataset> {
  const count = batchSize * 8;
  if (dataPath) return loadImageFolder(dataPath, { limit: count });
  return syntheticImages({ count, height: 32, width: 32, classes: 10, seed: 1 });
}

async function measure(
  modelName: string,
  backend: BackendInfo,
  data: ImageDataset,
  timedSteps: number,
): Promise<Row> {
  const architecture = getArchitecture(modelName);
  const model = architecture.build({
    task: 'image-classification',
    height: data.height,
    width: data.width,
    channels: data.channels,
    classes: data.classNames.length,
  });
  model.compile({
    optimizer: tf.train.adam(1e-3),
    loss: 'categoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const x = tf.tidy(() =>
    tf
      .tensor4d(data.pixels, [data.count, data.height, data.width, data.channels], 'float32')
      .div(255),
  );
  const y = tf.oneHot(tf.tensor1d(data.labels, 'int32'), data.classNames.length);
  const batches = Math.floor(data.count / batchSize);
  const step = async (i: number) => {
    const start = (i % batches) * batchSize;
    const xb = x.slice(start, batchSize);
    const yb = y.slice(start, batchSize);
    await model.trainOnBatch(xb, yb);
    tf.dispose([xb, yb]);
  };
  await step(0); // warm-up: kernel compilation and first allocations
  const times: number[] = [];
  for (let i = 1; i <= timedSteps; i++) {
    const t0 = performance.now();
    await step(i);
    times.push(performance.now() - t0);
  }
  tf.dispose([x, y]);
  model.dispose();
  const total = times.reduce((a, b) => a + b, 0);
  const sorted = [...times].sort((a, b) => a - b);
  return {
    model: modelName,
    backend: backend.name,
    steps: timedSteps,
    batchSize,
    samplesPerSecond: (timedSteps * batchSize) / (total / 1000),
    stepMs: { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), max: sorted.at(-1) ?? NaN },
  };
}

const data = await loadData();
const rows: Row[] = [];
const backends: Record<string, BackendInfo> = {};
for (const preference of ['wasm', 'cpu'] as const) {
  const backend = await initBackend(preference);
  backends[preference] = backend;
  for (const model of models) {
    process.stderr.write(`measuring ${model} on ${backend.name} ...\n`);
    rows.push(await measure(model, backend, data, preference === 'cpu' ? cpuSteps : steps));
  }
}

const speedups = models.map((model) => {
  const wasm = rows.find((r) => r.model === model && r.backend === 'wasm');
  const cpu = rows.find((r) => r.model === model && r.backend === 'cpu');
  return { model, wasmOverCpu: wasm && cpu ? wasm.samplesPerSecond / cpu.samplesPerSecond : NaN };
});
const result = {
  benchmark: 'train-throughput',
  date: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    node: process.version,
    tfjs: tf.version.tfjs,
  },
  data: dataPath ?? 'generated (syntheticImages)',
  backends,
  rows,
  speedups,
};
const out = new URL('./results/train-throughput.json', import.meta.url).pathname;
await mkdir(new URL('./results/', import.meta.url).pathname, { recursive: true });
await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);

console.log(`\ntraining throughput, batch ${batchSize}, data: ${result.data}`);
console.log('model         backend  steps  samples/s  step p50 ms  step p95 ms');
for (const r of rows) {
  console.log(
    `${r.model.padEnd(13)} ${r.backend.padEnd(8)} ${String(r.steps).padStart(5)}  ${r.samplesPerSecond.toFixed(1).padStart(9)}  ${r.stepMs.p50.toFixed(0).padStart(11)}  ${r.stepMs.p95.toFixed(0).padStart(11)}`,
  );
}
for (const s of speedups)
  console.log(`${s.model}: wasm is ${s.wasmOverCpu.toFixed(1)}x the JS backend`);
console.log(`\nwritten to ${out}`);
