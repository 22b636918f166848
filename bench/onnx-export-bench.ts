/**
 * In-process throughput of the same CIFAR-10 CNN on the two engines: TF.js on the wasm
 * backend (`model.predict` + reading the result) and the ONNX export of that very model on
 * onnxruntime-node (`session.run`), at batch 1 and batch 32, on real CIFAR-10 test images.
 * ONNX Runtime runs twice: with its default intra-op threads (all cores) and with one thread
 * (like the wasm backend, which is single-threaded in Node). No HTTP, no worker pool: each
 * engine's ceiling in this process. The two engines' outputs are compared once per batch size.
 *
 * Run: node --import tsx bench/onnx-export-bench.ts
 * Options (environment): BENCH_SECONDS (per measurement, default 3), BENCH_WARMUP (s, default
 * 1), BENCH_BATCHES (default 1,32), BENCH_OUT (default bench/results/onnx-export.json; a .md
 * table is written beside it). On a shared machine the figures are noisy: compare ratios
 * within one run, not across runs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { getArchitecture } from '../model/architectures/index.ts';
import { exportLayersModelToOnnx } from '../model/export/onnx/index.ts';
import { imageClassification } from '../model/pipeline/image-classification.ts';
import { initBackend } from '../runtime/backend/index.ts';
import { sharedData } from '../tests/shared-data.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const warmup = Number(process.env.BENCH_WARMUP ?? 1);
const batches = (process.env.BENCH_BATCHES ?? '1,32').split(',').map(Number);
const out = path.resolve(process.env.BENCH_OUT ?? 'bench/results/onnx-export.json');

interface Row {
  engine: string;
  threads: number | 'default';
  batch: number;
  rowsPerSecond: number;
  calls: number;
  msPerCall: number;
}

/** Calls `run` for `warmup` s (not counted), then for `seconds` s; rows/s over that time. */
async function measure(batch: number, run: () => Promise<void> | void) {
  const until = (s: number) => performance.now() + s * 1000;
  for (const end = until(warmup); performance.now() < end;) await run();
  let calls = 0;
  const start = performance.now();
  for (const end = until(seconds); performance.now() < end; calls++) await run();
  const elapsed = (performance.now() - start) / 1000;
  return {
    rowsPerSecond: Math.round((calls * batch) / elapsed),
    calls,
    msPerCall: Number(((elapsed * 1000) / calls).toFixed(3)),
  };
}

async function main(): Promise<void> {
  const backend = await initBackend('wasm');
  const model = getArchitecture('cifar10-cnn').build({
    task: 'image-classification',
    height: 32,
    width: 32,
    channels: 3,
    classes: 10,
  });
  // Inference cost does not depend on the weights; the inputs are real images anyway.
  const exportStart = performance.now();
  const bytes = exportLayersModelToOnnx(model, {
    inputNames: ['image'],
    outputNames: ['probabilities'],
  });
  const exportMs = Number((performance.now() - exportStart).toFixed(1));
  const densenet = getArchitecture('densenet').build({
    task: 'image-classification',
    height: 32,
    width: 32,
    channels: 3,
    classes: 10,
  });
  const denseStart = performance.now();
  const denseBytes = exportLayersModelToOnnx(densenet);
  const denseExportMs = Number((performance.now() - denseStart).toFixed(1));
  densenet.dispose();
  const largest = Math.max(...batches);
  const data = await imageClassification.prepare({
    sources: [sharedData('cifar10')],
    testFraction: 0.5,
    seed: 1,
    limit: Math.max(2 * largest, 20),
  });
  const images = data.xTest;

  const rows: Row[] = [];
  const agreement: Record<string, number> = {};
  const sessions = [
    { threads: 'default' as const, session: await ort.InferenceSession.create(bytes) },
    {
      threads: 1,
      session: await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
      }),
    },
  ];
  for (const batch of batches) {
    const x = images.slice([0, 0, 0, 0], [batch, -1, -1, -1]);
    const feed = { image: new ort.Tensor('float32', Float32Array.from(x.dataSync()), x.shape) };

    const reference = tf.tidy(() => Float32Array.from((model.predict(x) as tf.Tensor).dataSync()));
    const onnxOut = (await sessions[0]!.session.run(feed)).probabilities!.data as Float32Array;
    agreement[`batch ${batch}`] = reference.reduce(
      (max, v, i) => Math.max(max, Math.abs(v - (onnxOut[i] as number))),
      0,
    );

    const tfjs = await measure(batch, async () => {
      const y = model.predict(x) as tf.Tensor;
      await y.data();
      y.dispose();
    });
    rows.push({ engine: `tfjs-${backend.name}`, threads: backend.threads ?? 1, batch, ...tfjs });
    console.log(rows.at(-1));
    for (const { threads, session } of sessions) {
      const result = await measure(batch, async () => {
        await session.run(feed);
      });
      rows.push({ engine: 'onnxruntime-node', threads, batch, ...result });
      console.log(rows.at(-1));
    }
    x.dispose();
  }
  await Promise.all(sessions.map((s) => s.session.release()));

  const report = {
    date: new Date().toISOString(),
    model:
      'cifar10-cnn (random weights), input [batch, 32, 32, 3] float32, real CIFAR-10 test images',
    onnxFileBytes: bytes.length,
    // What exporting at publish time costs (first call, so it includes warm-up).
    exportMs: { 'cifar10-cnn': exportMs, densenet: denseExportMs },
    densenetOnnxFileBytes: denseBytes.length,
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
    versions: { tfjs: tf.version.tfjs, onnxruntime: ort.env.versions.common },
    seconds,
    warmup,
    maxAbsDiffTfjsVsOnnx: agreement,
    note: 'In-process, one caller, no HTTP. Shared machine: figures are noisy; compare within one run.',
    rows,
  };
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  const table = [
    '| engine | threads | batch | rows/s | ms/call |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) => `| ${r.engine} | ${r.threads} | ${r.batch} | ${r.rowsPerSecond} | ${r.msPerCall} |`,
    ),
  ].join('\n');
  await writeFile(
    out.replace(/\.json$/, '.md'),
    `# cifar10-cnn in process: TF.js wasm vs ONNX Runtime (${report.date})\n\n${report.machine.cpus} cores, ${report.machine.cpu}. ${report.note}\n\n${table}\n\nmax |tfjs - onnx|: ${JSON.stringify(agreement)}\n\nexport time (ms): ${JSON.stringify(report.exportMs)}\n`,
  );
  console.log(`\n${table}\n\nwritten to ${out}`);
}

await main();
