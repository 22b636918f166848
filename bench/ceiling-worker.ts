/**
 * One thread of the in-process ceiling of `npm run bench` (bench/serve-bench.ts): its own
 * WebAssembly backend and its own copy of the model, `model.predict` in a loop on a tensor
 * built once, for a given time. The bench starts one per core and runs them all at once.
 *
 * Messages: in `{type: 'run', batch, seconds}`; out `{type: 'ready'}` once, then
 * `{type: 'done', batch, rows, ms}` per run.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { modelFromFiles } from '../connectors/ms/artifacts.ts';
import { initBackend } from '../runtime/backend/index.ts';

export interface CeilingInit {
  files: Record<string, Uint8Array>;
  /** Input shape without the batch dimension, e.g. [32, 32, 3]. */
  rowShape: number[];
  /** Batch sizes to warm up before the first run. */
  warmupBatches: number[];
}

export type CeilingRequest = { type: 'run'; batch: number; seconds: number };
export type CeilingResponse =
  | { type: 'ready'; backend: string; threads: number | undefined; simd: boolean | undefined }
  | { type: 'done'; batch: number; rows: number; ms: number };

if (isMainThread || parentPort === null) {
  throw new Error('bench/ceiling-worker.ts runs only as a worker thread');
}
const port = parentPort;
const init = workerData as CeilingInit;

const backend = await initBackend('wasm');
const model = await modelFromFiles(new Map(Object.entries(init.files)));

function once(x: tf.Tensor, batch: number): void {
  tf.tidy(() => {
    const y = model.predict(x, { batchSize: batch }) as tf.Tensor;
    y.dataSync();
  });
}

function input(batch: number): tf.Tensor {
  return tf.randomUniform([batch, ...init.rowShape], 0, 1, 'float32');
}

for (const batch of init.warmupBatches) {
  const x = input(batch);
  for (let i = 0; i < 3; i++) once(x, batch);
  x.dispose();
}

port.on('message', (request: CeilingRequest) => {
  const x = input(request.batch);
  once(x, request.batch);
  let rows = 0;
  const start = performance.now();
  const deadline = start + request.seconds * 1000;
  while (performance.now() < deadline) {
    once(x, request.batch);
    rows += request.batch;
  }
  const ms = performance.now() - start;
  x.dispose();
  port.postMessage({ type: 'done', batch: request.batch, rows, ms } satisfies CeilingResponse);
});

port.postMessage({
  type: 'ready',
  backend: backend.name,
  threads: backend.threads,
  simd: backend.simd,
} satisfies CeilingResponse);
