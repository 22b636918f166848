/**
 * In-process ceilings: each engine alone, no HTTP and no load generator, a pre-built batch
 * run in a loop for a fixed time; rows/s. What a server on this machine could at best do.
 *   - ONNX Runtime (onnxruntime-node in this process): one session with `cores` intra-op
 *     threads, and `cores` sessions of one thread each running at once;
 *   - TF.js WebAssembly (bench/ceiling-worker.ts): one worker thread per core;
 *   - TensorFlow (the competitor's engine, bench/kserve_server.py `ceiling`, in its venv).
 */
import { execFileSync } from 'node:child_process';
import type { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { root, round } from '../harness.ts';
import type { CeilingInit, CeilingRequest, CeilingResponse } from '../ceiling-worker.ts';
import { sourceWorker } from '../../service/engine/worker-spawn.ts';

export interface CeilingRow {
  model: string;
  engine: string;
  /** e.g. "1 session x 2 threads", "2 worker threads". */
  layout: string;
  batch: number;
  rowsPerSecond: number;
  /** CPU time of this process per row (ONNX Runtime only: the others run elsewhere). */
  cpuMicrosPerRow?: number;
  /** ONNX Runtime only: the layout as data, so the same one can be measured again. */
  onnxLayout?: OnnxLayout;
}

/** Sessions running at once, intra-op threads each, and whether those threads spin when idle. */
export interface OnnxLayout {
  sessions: number;
  threads: number;
  spinning: boolean;
}

/**
 * With several threads, also without spinning (what the service's sessions do): on a busy
 * machine that is much faster, on a quiet one spinning may be; the ceiling is the best.
 */
export function onnxLayouts(cores: number): OnnxLayout[] {
  if (cores <= 1) return [{ sessions: 1, threads: 1, spinning: true }];
  return [
    { sessions: 1, threads: cores, spinning: true },
    { sessions: 1, threads: cores, spinning: false },
    { sessions: cores, threads: 1, spinning: true },
  ];
}

const cpuMicros = (u: NodeJS.CpuUsage) => u.user + u.system;

export async function onnxCeiling(
  model: string,
  onnx: Uint8Array,
  input: Float32Array,
  rowShape: number[],
  batches: number[],
  seconds: number,
  layouts: readonly OnnxLayout[],
): Promise<CeilingRow[]> {
  const rows: CeilingRow[] = [];
  for (const { sessions, threads, spinning } of layouts) {
    const list = await Promise.all(
      Array.from({ length: sessions }, () =>
        ort.InferenceSession.create(onnx, {
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
          ...(spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
        }),
      ),
    );
    const inputName = list[0]?.inputNames[0] ?? 'input';
    for (const batch of batches) {
      const data = new Float32Array(batch * input.length);
      for (let b = 0; b < batch; b++) data.set(input, b * input.length);
      const feed = { [inputName]: new ort.Tensor('float32', data, [batch, ...rowShape]) };
      for (const session of list) await session.run(feed);
      let done = 0;
      const cpu = process.cpuUsage();
      const started = performance.now();
      const end = started + seconds * 1000;
      await Promise.all(
        list.map(async (session) => {
          while (performance.now() < end) {
            await session.run(feed);
            done += batch;
          }
        }),
      );
      const row: CeilingRow = {
        model,
        engine: `onnxruntime-node ${ort.env.versions.common}`,
        layout: `${sessions} session(s) x ${threads} thread(s)${spinning ? '' : ', no spinning'}`,
        batch,
        rowsPerSecond: round(done / ((performance.now() - started) / 1000), 0),
        cpuMicrosPerRow: round(cpuMicros(process.cpuUsage(cpu)) / Math.max(1, done), 0),
        onnxLayout: { sessions, threads, spinning },
      };
      rows.push(row);
      process.stderr.write(
        `  ${model} ${row.engine} ${row.layout} batch ${batch}: ${row.rowsPerSecond} rows/s, ${row.cpuMicrosPerRow} µs CPU per row\n`,
      );
    }
    await Promise.all(list.map((s) => s.release()));
  }
  return rows;
}

function nextMessage(worker: Worker): Promise<CeilingResponse> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    worker.once('error', onError);
    worker.once('message', (message: CeilingResponse) => {
      worker.off('error', onError);
      resolve(message);
    });
  });
}

export async function tfjsCeiling(
  model: string,
  files: Map<string, Uint8Array>,
  rowShape: number[],
  batches: number[],
  seconds: number,
  cores: number,
): Promise<CeilingRow[]> {
  const init: CeilingInit = {
    files: Object.fromEntries(files),
    rowShape,
    warmupBatches: batches,
  };
  const workers = Array.from({ length: cores }, () =>
    sourceWorker(new URL('../ceiling-worker.ts', import.meta.url), init),
  );
  try {
    await Promise.all(workers.map(nextMessage));
    const rows: CeilingRow[] = [];
    for (const batch of batches) {
      const answers = workers.map(nextMessage);
      for (const w of workers) {
        w.postMessage({ type: 'run', batch, seconds } satisfies CeilingRequest);
      }
      const done = await Promise.all(answers);
      const total = done.reduce(
        (sum, d) => sum + (d.type === 'done' ? (d.rows / d.ms) * 1000 : 0),
        0,
      );
      const row: CeilingRow = {
        model,
        engine: 'tfjs wasm',
        layout: `${cores} worker thread(s)`,
        batch,
        rowsPerSecond: round(total, 0),
      };
      rows.push(row);
      process.stderr.write(
        `  ${model} tfjs wasm ${row.layout} batch ${batch}: ${row.rowsPerSecond} rows/s\n`,
      );
    }
    return rows;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** TensorFlow alone, in the competitor's Python (its default threads: all cores). */
export function tensorflowCeiling(
  python: string,
  model: string,
  modelArgs: string[],
  batches: number[],
  seconds: number,
): CeilingRow[] {
  const out = execFileSync(
    python,
    [
      `${root}bench/kserve_server.py`,
      'ceiling',
      ...modelArgs,
      '--batches',
      batches.join(','),
      '--seconds',
      String(seconds),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 900_000 },
  );
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      const j = JSON.parse(l) as { engine: string; batch: number; rowsPerSecond: number };
      const row: CeilingRow = {
        model,
        engine: j.engine,
        layout: 'tf.function, default threads',
        batch: j.batch,
        rowsPerSecond: round(j.rowsPerSecond, 0),
      };
      process.stderr.write(
        `  ${model} ${row.engine} batch ${row.batch}: ${row.rowsPerSecond} rows/s\n`,
      );
      return row;
    });
}
