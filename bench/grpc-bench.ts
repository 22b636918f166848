/**
 * `npm run bench:grpc`: gRPC beside REST JSON and REST binary on the same model, the same
 * `mscr serve` process and the same payload, in ONE run, so the ratios mean something on a
 * noisy shared machine.
 *
 * The model is the CIFAR-10 CNN of model/architectures with random weights (inference cost
 * does not depend on them); the payload one real CIFAR-10 test image (the shared cat_0003.jpg,
 * else a generated one), rescaled, shape [1,32,32,3] FP32. Transports:
 *   - REST JSON: `POST /v2/models/{m}/infer` with flat `data` (autocannon, as in serve-bench);
 *   - REST binary: the same with the binary tensor data extension (autocannon);
 *   - gRPC: `ModelInfer` with `raw_input_contents` over one HTTP/2 channel (@grpc/grpc-js,
 *     `c` calls in flight, each answered before the next starts: closed loop like autocannon).
 * All three answers are checked equal before measuring. Each concurrency level measures the
 * three back to back, in an order that rotates per level and round.
 *
 * Options (environment): BENCH_CONCURRENCY (default 1,8,32), BENCH_DURATION (s, default 6),
 * BENCH_WARMUP (s, default 2), BENCH_ROUNDS (default 2; the table shows the best round),
 * BENCH_WORKERS (default 1), BENCH_OUT (default bench/results/grpc.json; a .md beside it).
 * The load generators run in this process: on a 2-core machine they compete with the server
 * for CPU, alike for the three (the grpc-js client costs more per call than autocannon's).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type * as grpc from '@grpc/grpc-js';
import { modelToFiles } from '../connectors/ms/artifacts.ts';
import { decodeImage } from '../connectors/ms/decode-image.ts';
import type { ImagePreprocessing } from '../connectors/ms/manifest.ts';
import { imagePixelsToInput } from '../connectors/ms/preprocessing.ts';
import { openStore } from '../connectors/store/index.ts';
import { getArchitecture } from '../model/architectures/index.ts';
import { CIFAR10_CLASS_NAMES, syntheticImages } from '../model/data/index.ts';
import { initBackend } from '../runtime/backend/index.ts';
import * as tf from '@tensorflow/tfjs';
import { callUnary, grpcClients } from '../service/grpc/test-support.ts';
import { sharedDataRoot } from '../tests/shared-data.ts';

const env = process.env;
const MODEL = 'cifar10-cnn';
const root = path.resolve(import.meta.dirname, '..');
const list = (text: string | undefined, fallback: number[]) =>
  text ? text.split(',').map((v) => Number(v.trim())) : fallback;
const CONCURRENCY = list(env.BENCH_CONCURRENCY, [1, 8, 32]);
const DURATION = Number(env.BENCH_DURATION ?? 6);
const WARMUP = Number(env.BENCH_WARMUP ?? 2);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 2);
const WORKERS = Number(env.BENCH_WORKERS ?? 1);
const OUT = path.resolve(env.BENCH_OUT ?? path.join(root, 'bench/results/grpc.json'));
const IMAGE_SPEC: ImagePreprocessing = {
  kind: 'image',
  height: 32,
  width: 32,
  channels: 3,
  normalization: { type: 'rescale' },
};

type Transport = 'REST JSON' | 'REST binary' | 'gRPC raw';
const TRANSPORTS: Transport[] = ['REST JSON', 'REST binary', 'gRPC raw'];

interface Result {
  transport: Transport;
  concurrency: number;
  round: number;
  seconds: number;
  ok: number;
  errors: number;
  okPerSecond: number;
  latencyMs: { p50: number; p99: number };
  requestBytes: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

async function image(): Promise<Float32Array> {
  const file =
    env.BENCH_IMAGE ??
    (sharedDataRoot ? path.join(sharedDataRoot, 'cifar10/images/cat_0003.jpg') : '');
  if (file && existsSync(file)) {
    const pixels = await decodeImage(await readFile(file), { height: 32, width: 32, channels: 3 });
    return imagePixelsToInput(pixels, IMAGE_SPEC);
  }
  const generated = syntheticImages({ count: 1, height: 32, width: 32, classes: 10, seed: 1 });
  return imagePixelsToInput(generated.pixels, IMAGE_SPEC);
}

async function publish(storeDir: string): Promise<void> {
  await initBackend('wasm');
  const model = getArchitecture(MODEL).build({
    task: 'image-classification',
    height: 32,
    width: 32,
    channels: 3,
    classes: 10,
  });
  const files = await modelToFiles(model);
  model.dispose();
  await openStore(storeDir).publish(
    {
      name: MODEL,
      framework: { name: 'tfjs', version: tf.version.tfjs, format: 'layers-model' },
      task: 'image-classification',
      architecture: MODEL,
      inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 32, 32, 3] }],
      outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 10] }],
      labels: [...CIFAR10_CLASS_NAMES],
      preprocessing: IMAGE_SPEC,
      metrics: {},
      training: {
        epochs: 0,
        batchSize: 0,
        trainSamples: 0,
        testSamples: 0,
        backend: 'none (random weights: the bench measures inference cost only)',
        durationMs: 0,
      },
      data: { fingerprint: '0'.repeat(64), sources: ['bench: untrained'] },
    },
    files,
  );
}

async function startServe(
  storeDir: string,
): Promise<{ child: ChildProcess; url: string; grpcPort: number }> {
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'bin/mscr.js'),
      'serve',
      '--store',
      storeDir,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--workers',
      String(WORKERS),
      '--log-level',
      'warn',
      '--backend',
      'wasm',
      '--poll-interval',
      '60',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 120_000;
  for (;;) {
    const m = /at (http:\/\/\S+) and gRPC on port (\d+)/.exec(stderr);
    if (m) {
      const url = m[1] as string;
      for (;;) {
        if ((await fetch(`${url}/v2/health/ready`).catch(() => undefined))?.status === 200)
          return { child, url, grpcPort: Number(m[2]) };
        if (Date.now() > deadline) throw new Error('mscr serve was not ready within 120 s');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (child.exitCode !== null) throw new Error(`mscr serve exited: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`no listening line: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function restBodies(input: Float32Array) {
  const json = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'image', shape: [1, 32, 32, 3], datatype: 'FP32', data: Array.from(input) }],
    }),
  );
  const raw = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'image',
          shape: [1, 32, 32, 3],
          datatype: 'FP32',
          parameters: { binary_data_size: raw.length },
        },
      ],
    }),
  );
  return {
    json: { body: json, headers: { 'content-type': 'application/json' } },
    binary: {
      body: Buffer.concat([header, raw]),
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(header.length),
      },
    },
  };
}

function runRest(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
  c: number,
  seconds: number,
) {
  const latencies: number[] = [];
  return new Promise<{ ok: number; errors: number; latencies: number[]; seconds: number }>(
    (resolve, reject) => {
      const instance = autocannon(
        {
          url: `${url}/v2/models/${MODEL}/infer`,
          method: 'POST',
          headers,
          body,
          connections: c,
          duration: seconds,
          timeout: 30,
        },
        (error: unknown, result) => {
          if (error) reject(error instanceof Error ? error : new Error(String(error)));
          else
            resolve({
              ok: result['2xx'],
              errors: result.errors + result.non2xx + result.timeouts,
              latencies,
              seconds: result.duration,
            });
        },
      );
      instance.on('response', (_client, status, _bytes, ms) => {
        if (status >= 200 && status < 300) latencies.push(ms);
      });
    },
  );
}

async function runGrpc(client: grpc.Client, request: unknown, c: number, seconds: number) {
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: c }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await callUnary(client, 'ModelInfer', request);
          latencies.push(performance.now() - t0);
          ok++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { ok, errors, latencies, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const temp = await mkdtemp(path.join(os.tmpdir(), 'mscr-grpc-bench-'));
  const store = path.join(temp, 'store');
  let child: ChildProcess | undefined;
  try {
    await publish(store);
    const input = await image();
    const served = await startServe(store);
    child = served.child;
    const rest = restBodies(input);
    const clients = grpcClients(`127.0.0.1:${served.grpcPort}`, undefined, {
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
    const grpcRequest = {
      model_name: MODEL,
      inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 32, 32, 3] }],
      raw_input_contents: [Buffer.from(input.buffer, input.byteOffset, input.byteLength)],
    };
    // The three transports must give the same answer before anything is measured.
    const viaJson = (await (
      await fetch(`${served.url}/v2/models/${MODEL}/infer`, { method: 'POST', ...rest.json })
    ).json()) as { outputs: { data: number[] }[] };
    const viaGrpc = await callUnary<{ raw_output_contents: Buffer[] }>(
      clients.inference,
      'ModelInfer',
      grpcRequest,
    );
    const grpcOut = Array.from(
      new Float32Array(new Uint8Array(viaGrpc.raw_output_contents[0] as Buffer).buffer),
    );
    const jsonOut = viaJson.outputs[0]?.data ?? [];
    if (jsonOut.length !== 10 || jsonOut.some((v, i) => Math.abs(v - (grpcOut[i] ?? NaN)) > 1e-6))
      throw new Error(
        `gRPC and REST answers differ: ${JSON.stringify(jsonOut)} vs ${JSON.stringify(grpcOut)}`,
      );
    const grpcBytes = 4 * input.length + 60; // raw tensor plus the small message around it
    const results: Result[] = [];
    let turn = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of CONCURRENCY) {
        const order = TRANSPORTS.map(
          (_, i) => TRANSPORTS[(i + turn) % TRANSPORTS.length] as Transport,
        );
        turn++;
        for (const transport of order) {
          const go = (seconds: number) =>
            transport === 'gRPC raw'
              ? runGrpc(clients.inference, grpcRequest, c, seconds)
              : runRest(
                  served.url,
                  transport === 'REST JSON' ? rest.json.body : rest.binary.body,
                  transport === 'REST JSON' ? rest.json.headers : rest.binary.headers,
                  c,
                  seconds,
                );
          if (WARMUP > 0) await go(WARMUP);
          const r = await go(DURATION);
          const sorted = [...r.latencies].sort((a, b) => a - b);
          const result: Result = {
            transport,
            concurrency: c,
            round,
            seconds: round2(r.seconds),
            ok: r.ok,
            errors: r.errors,
            okPerSecond: round2(r.ok / r.seconds),
            latencyMs: { p50: round2(percentile(sorted, 50)), p99: round2(percentile(sorted, 99)) },
            requestBytes:
              transport === 'gRPC raw'
                ? grpcBytes
                : transport === 'REST JSON'
                  ? rest.json.body.length
                  : rest.binary.body.length,
          };
          results.push(result);
          process.stderr.write(
            `round ${round} c=${c} ${transport}: ${result.okPerSecond} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ${result.errors} errors\n`,
          );
        }
      }
    }
    clients.close();
    const best = CONCURRENCY.flatMap((c) =>
      TRANSPORTS.map(
        (t) =>
          results
            .filter((r) => r.transport === t && r.concurrency === c)
            .sort((a, b) => b.okPerSecond - a.okPerSecond)[0] as Result,
      ),
    );
    const rows = best.map((r) => {
      const json = best.find((b) => b.transport === 'REST JSON' && b.concurrency === r.concurrency);
      return `| ${r.concurrency} | ${r.transport} | ${r.requestBytes} | ${r.okPerSecond} | ${json ? (r.okPerSecond / json.okPerSecond).toFixed(2) : ''} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.errors} |`;
    });
    const md = [
      `# gRPC beside REST (one run, ${new Date().toISOString()})`,
      '',
      `${MODEL} (random weights), one [1,32,32,3] FP32 image per request, \`mscr serve\` with ${WORKERS} worker(s), ${os.cpus().length} cores, ${DURATION} s per cell after ${WARMUP} s warm-up, best of ${ROUNDS} rounds. Load generators in the bench process (autocannon for REST, @grpc/grpc-js for gRPC).`,
      '',
      '| concurrency | transport | request bytes | req/s | vs REST JSON | p50 ms | p99 ms | errors |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
    ].join('\n');
    await mkdir(path.dirname(OUT), { recursive: true });
    await writeFile(
      OUT,
      JSON.stringify(
        {
          model: MODEL,
          workers: WORKERS,
          duration: DURATION,
          warmup: WARMUP,
          rounds: ROUNDS,
          cores: os.cpus().length,
          results,
        },
        null,
        2,
      ),
    );
    await writeFile(OUT.replace(/\.json$/, '.md'), md);
    process.stdout.write(`${md}\nwritten: ${path.relative(process.cwd(), OUT)} and .md\n`);
  } finally {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child?.once('exit', r));
    }
    await rm(temp, { recursive: true, force: true });
  }
}

await main();
