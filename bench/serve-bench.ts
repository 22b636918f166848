/**
 * `npm run bench`: the Service under load, over loopback, with a real HTTP load generator
 * (autocannon), measured in ONE run so the ratios mean something on a noisy shared machine.
 *
 * What it measures, in this order:
 *   1. the in-process ceiling: one worker thread per core, each with its own wasm backend and
 *      the model, `model.predict` in a loop on a pre-built tensor, all at once, at several
 *      batch sizes (rows/s summed over the threads; no HTTP, no load generator);
 *   2. the engine alone (experiment): `InferenceEngine` (worker pool + batcher) driven in
 *      process by closed-loop callers, no HTTP, to split the overhead into engine and HTTP;
 *   3. the reference server (bench/reference-server.ts): Express + `model.predict` per request
 *      on the main thread, same model, same backend: the baseline;
 *   4. `mscr serve` (bin/mscr.js, a separate process) with 1 worker and one per core, batching
 *      off (`--max-batch-size 1`) and on (max batch 32, `--max-queue-delay` 0, 2 and 5 ms).
 *      Every server is started once and stays up; each concurrency level then measures all of
 *      them back to back, and the whole matrix runs BENCH_ROUNDS times in alternating order,
 *      so the drifting load of a shared machine hits every configuration alike;
 *   5. experiments at the service's peak, and at the best configuration with one worker per
 *      core: the same run again (noise), a shorter payload (the same float32 values, fewer
 *      digits), nested data, the binary tensor data extension; at the peak also autocannon in
 *      worker threads, and the reference with the shorter payload;
 *   6. the ceiling again at its best batch size, with the servers stopped.
 * Every measurement runs `BENCH_WARMUP` s (not recorded), then `BENCH_DURATION` s.
 *
 * The model is the CIFAR-10 CNN of model/architectures with RANDOM weights: inference cost
 * does not depend on the weights, and the bench needs no training run. The payload is a V2
 * infer request of one real CIFAR-10 test image (decoded with sharp, rescaled x/255 as the
 * manifest says), shape [1,32,32,3], FP32, flat row-major data.
 *
 * Options (environment): BENCH_CONCURRENCY (default 1,8,32,64), BENCH_DURATION (s, default
 * 8), BENCH_WARMUP (s, default 2), BENCH_ROUNDS (default 2; the table shows the best round of
 * each cell, every round is in the JSON), BENCH_WORKERS (default 1,<cores>), BENCH_DELAYS
 * (batching delays in ms, default 0,2,5), BENCH_CEILING_BATCHES (default 1,8,32,64),
 * BENCH_CEILING_SECONDS (default 5), BENCH_EXPERIMENTS (0 = skip 2. and 5.),
 * BENCH_CPU_PROF (a folder: the services run with --cpu-prof into DIR/<config>),
 * BENCH_IMAGE (an image file; default the shared cat_0003.jpg, else a generated image),
 * BENCH_OUT (default bench/results/serve.json; a .md with the tables is written beside it).
 * Takes about 17 minutes with the defaults on 2 cores (BENCH_ROUNDS=1: about 10).
 *
 * Engines (BENCH_ENGINES, default `tfjs,onnx`): with `onnx`, the published version also has
 * an ONNX form of the same network with the same weights (bench/tfjs_sequential_to_onnx.py,
 * run with the pinned `.tools/venv-ml` Python, a stand-in until mscr's TypeScript exporter
 * lands; the answers must agree within 1e-5), the ONNX Runtime in-process ceiling is measured
 * beside the TF.js one (one session with `cores` threads, and `cores` sessions with one thread
 * each), and `mscr serve --engine onnx` runs beside `--engine tfjs`: 1 worker x `cores`
 * threads, `cores` workers x 1 thread, batching off and on (the first delay).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import autocannon from 'autocannon';
import * as tf from '@tensorflow/tfjs';
import { modelToFiles } from '../connectors/ms/artifacts.ts';
import { decodeImage } from '../connectors/ms/decode-image.ts';
import type {
  ImagePreprocessing,
  ManifestDraft,
  ModelManifest,
} from '../connectors/ms/manifest.ts';
import { imagePixelsToInput } from '../connectors/ms/preprocessing.ts';
import { openStore } from '../connectors/store/index.ts';
import { getArchitecture } from '../model/architectures/index.ts';
import { CIFAR10_CLASS_NAMES, syntheticImages } from '../model/data/index.ts';
import { initBackend } from '../runtime/backend/index.ts';
import { InferenceEngine } from '../service/engine/index.ts';
import {
  decodeInferRequest,
  encodeInferResponse,
  inlineBinaryInputs,
  splitInferBody,
} from '../service/protocols/index.ts';
import { sharedDataRoot } from '../tests/shared-data.ts';
import type { CeilingInit, CeilingRequest, CeilingResponse } from './ceiling-worker.ts';

// --- options ------------------------------------------------------------------------------

function numberList(text: string, name: string, min = 1): number[] {
  const list = text.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isFinite(n) || n < min)) {
    throw new Error(`${name} must be a comma-separated list of numbers >= ${min}, got ${text}`);
  }
  return list;
}

const cores = Math.max(1, os.availableParallelism());
const env = process.env;
const concurrencies = numberList(env.BENCH_CONCURRENCY ?? '1,8,32,64', 'BENCH_CONCURRENCY');
const durationS = Number(env.BENCH_DURATION ?? 8);
const warmupS = Number(env.BENCH_WARMUP ?? 2);
const workerCounts = [...new Set(numberList(env.BENCH_WORKERS ?? `1,${cores}`, 'BENCH_WORKERS'))];
const delays = numberList(env.BENCH_DELAYS ?? '0,2,5', 'BENCH_DELAYS', 0);
const ceilingBatches = numberList(
  env.BENCH_CEILING_BATCHES ?? '1,8,32,64',
  'BENCH_CEILING_BATCHES',
);
const ceilingSeconds = Number(env.BENCH_CEILING_SECONDS ?? 5);
const rounds = Math.max(1, Math.floor(Number(env.BENCH_ROUNDS ?? 2)));
const experiments = env.BENCH_EXPERIMENTS !== '0';
type Engine = 'tfjs' | 'onnx';
const engines = (env.BENCH_ENGINES ?? 'tfjs,onnx').split(',').map((e) => e.trim()) as Engine[];
if (engines.length === 0 || engines.some((e) => e !== 'tfjs' && e !== 'onnx')) {
  throw new Error(`BENCH_ENGINES must list tfjs and/or onnx, got ${env.BENCH_ENGINES}`);
}
const ML_PYTHON = new URL('../.tools/venv-ml/bin/python', import.meta.url).pathname;
const cpuProfDir = env.BENCH_CPU_PROF ? path.resolve(env.BENCH_CPU_PROF) : undefined;
const outJson = path.resolve(
  env.BENCH_OUT ?? new URL('./results/serve.json', import.meta.url).pathname,
);
const outMd = outJson.replace(/\.json$/, '') + '.md';

const MODEL = 'cifar10-cnn';
const ROW_SHAPE = [32, 32, 3];
const root = new URL('../', import.meta.url).pathname;
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

// --- child processes ----------------------------------------------------------------------

const children = new Set<ChildProcess>();

interface Started {
  child: ChildProcess;
  url: string;
  /** The last lines the child wrote (stdout and stderr), for error messages. */
  tail(): string;
}

/** Starts a node child and resolves with the URL it prints (matched by `pattern`). */
function startChild(
  name: string,
  args: string[],
  pattern: RegExp,
  timeoutMs = 120_000,
): Promise<Started> {
  const child = spawn(process.execPath, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MSCR_LOG_LEVEL: 'warn' },
  });
  children.add(child);
  const lines: string[] = [];
  const tail = () => lines.slice(-30).join('\n');
  return new Promise<Started>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      reject(new Error(`${name} did not start within ${timeoutMs} ms:\n${tail()}`));
    }, timeoutMs);
    const onLine = (line: string) => {
      lines.push(line);
      if (lines.length > 200) lines.shift();
      const match = pattern.exec(line);
      if (!done && match?.[1] !== undefined) {
        done = true;
        clearTimeout(timer);
        resolve({ child, url: match[1], tail });
      }
    };
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buffered += chunk;
        const parts = buffered.split('\n');
        buffered = parts.pop() ?? '';
        parts.forEach(onLine);
      });
    }
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (!done) {
        done = true;
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${tail()}`));
      }
    });
  });
}

async function stopChild(child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

function killAllNow(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** The temporary store, removed on the way out (also on a signal). */
const cleanup: { tmpDir?: string } = {};
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  process.stderr.write(`\n${signal}: stopping every child process\n`);
  killAllNow();
  if (cleanup.tmpDir !== undefined) rmSync(cleanup.tmpDir, { recursive: true, force: true });
  process.exit(130);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
process.on('exit', killAllNow);

async function waitReady(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/v2/health/ready`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`${url}/v2/health/ready is not 200 after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// --- CPU accounting -----------------------------------------------------------------------

interface ThreadTicks {
  comm: string;
  ticks: number;
}

/** utime + stime of every thread of a process, in clock ticks, by thread id. */
async function threadTicks(pid: number): Promise<Map<number, ThreadTicks>> {
  const out = new Map<number, ThreadTicks>();
  let tids: string[];
  try {
    tids = await readdir(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  await Promise.all(
    tids.map(async (tid) => {
      try {
        const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const open = stat.indexOf('(');
        const close = stat.lastIndexOf(')');
        const comm = stat.slice(open + 1, close);
        const fields = stat.slice(close + 2).split(' ');
        out.set(Number(tid), { comm, ticks: Number(fields[11]) + Number(fields[12]) });
      } catch {
        // the thread ended
      }
    }),
  );
  return out;
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
async function machineTicks(): Promise<{ busy: number; total: number }> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

interface CpuSnapshot {
  at: number;
  self: NodeJS.CpuUsage;
  server: Map<number, ThreadTicks>;
  machine: { busy: number; total: number };
}

/** CPU used during a run, in cores (1.0 = one core busy all the time). */
interface CpuUse {
  /** The bench process, i.e. autocannon (the load generator) and its bookkeeping. */
  loadGenerator: number;
  /** The server process's main thread: HTTP, JSON, batching, the event loop. */
  serverMain: number;
  /** Every other thread of the server: inference workers, GC and libuv helpers. */
  serverOther: number;
  /** The busiest threads of the server other than the main one. */
  serverThreads: { tid: number; comm: string; cores: number }[];
  /** The whole machine (every process, also other people's). */
  machine: number;
  /** The machine minus the load generator and the server: other people's processes. */
  others: number;
}

async function cpuSnapshot(pid: number | undefined): Promise<CpuSnapshot> {
  return {
    at: performance.now(),
    self: process.cpuUsage(),
    server: pid === undefined ? new Map() : await threadTicks(pid),
    machine: await machineTicks(),
  };
}

function cpuUse(before: CpuSnapshot, after: CpuSnapshot, pid: number | undefined): CpuUse {
  const seconds = (after.at - before.at) / 1000;
  const self = process.cpuUsage(before.self);
  const threads: { tid: number; comm: string; cores: number }[] = [];
  for (const [tid, t] of after.server) {
    const prior = before.server.get(tid)?.ticks ?? 0;
    threads.push({ tid, comm: t.comm, cores: (t.ticks - prior) / CLK_TCK / seconds });
  }
  const main = threads.find((t) => t.tid === pid)?.cores ?? NaN;
  const other = threads.filter((t) => t.tid !== pid).reduce((sum, t) => sum + t.cores, 0);
  const dm = after.machine.total - before.machine.total;
  const machine = dm > 0 ? ((after.machine.busy - before.machine.busy) / dm) * cores : NaN;
  const loadGenerator = (self.user + self.system) / 1e6 / seconds;
  // When the "server" is this process (the engine experiment), its CPU is counted once.
  const ours =
    (pid === process.pid ? 0 : loadGenerator) + (Number.isFinite(main) ? main : 0) + other;
  return {
    loadGenerator: round(loadGenerator, 2),
    serverMain: round(main, 2),
    serverOther: round(other, 2),
    serverThreads: threads
      .filter((t) => t.tid !== pid && t.cores >= 0.05)
      .sort((a, b) => b.cores - a.cores)
      .slice(0, 6)
      .map((t) => ({ ...t, cores: round(t.cores, 2) })),
    machine: round(machine, 2),
    others: round(Math.max(0, machine - ours), 2),
  };
}

// --- service metrics ----------------------------------------------------------------------

interface BatchCounters {
  batchRows: number;
  batches: number;
  queueSeconds: number;
}

async function batchCounters(url: string): Promise<BatchCounters | undefined> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const sum = (name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
        .reduce((acc, l) => acc + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    return {
      batchRows: sum('mscr_inference_batch_size_sum'),
      batches: sum('mscr_inference_batch_size_count'),
      queueSeconds: sum('mscr_inference_queue_seconds_sum'),
    };
  } catch {
    return undefined;
  }
}

// --- statistics ---------------------------------------------------------------------------

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? NaN;
}

// --- load generation ----------------------------------------------------------------------

interface Payload {
  name: string;
  body: string | Buffer;
  /** Extra request headers (the binary extension's Inference-Header-Content-Length). */
  headers?: Record<string, string>;
}

interface LoadResult {
  connections: number;
  seconds: number;
  /** autocannon's mean of its per-second samples of completed requests. */
  requestsPerSecond: number;
  /** 2xx responses / duration: the same thing counted exactly (one row per request). */
  okPerSecond: number;
  ok: number;
  latencyMs: { p50: number; p95: number | null; p99: number; max: number; mean: number };
  /** Where the percentiles come from: every 2xx response time, or autocannon's histogram. */
  latencySource: 'responses' | 'autocannon-histogram';
  autocannonLatencyMs: { p50: number; p97_5: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errorSamples: string[];
}

function runLoad(
  url: string,
  payload: Payload,
  connections: number,
  seconds: number,
  options: { workers?: number } = {},
): Promise<LoadResult> {
  const latencies: number[] = [];
  const statusCodes: Record<string, number> = {};
  const errorSamples: string[] = [];
  return new Promise<LoadResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/v2/models/${MODEL}/infer`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...payload.headers },
        body: payload.body,
        connections,
        duration: seconds,
        timeout: 30,
        ...(options.workers ? { workers: options.workers } : {}),
      },
      (error: unknown, result) => {
        if (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        latencies.sort((a, b) => a - b);
        const fromResponses = latencies.length > 0;
        const ok = result['2xx'];
        for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) {
          statusCodes[code] ??= stat.count ?? 0;
        }
        resolve({
          connections,
          seconds: result.duration,
          requestsPerSecond: round(result.requests.mean),
          okPerSecond: round(ok / result.duration),
          ok,
          latencyMs: fromResponses
            ? {
                p50: round(percentile(latencies, 50), 2),
                p95: round(percentile(latencies, 95), 2),
                p99: round(percentile(latencies, 99), 2),
                max: round(latencies.at(-1) ?? NaN, 2),
                mean: round(latencies.reduce((a, b) => a + b, 0) / latencies.length, 2),
              }
            : {
                p50: result.latency.p50,
                p95: null,
                p99: result.latency.p99,
                max: result.latency.max,
                mean: result.latency.mean,
              },
          latencySource: fromResponses ? 'responses' : 'autocannon-histogram',
          autocannonLatencyMs: {
            p50: result.latency.p50,
            p97_5: result.latency.p97_5,
            p99: result.latency.p99,
          },
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          statusCodes,
          errorSamples,
        });
      },
    );
    if (!options.workers) {
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        statusCodes[String(statusCode)] = (statusCodes[String(statusCode)] ?? 0) + 1;
        if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
      });
    }
    instance.on('reqError', (error: unknown) => {
      if (errorSamples.length < 5) errorSamples.push(String(error));
    });
  });
}

// --- runs ---------------------------------------------------------------------------------

interface ServiceSetting {
  engine: Engine;
  /** ONNX Runtime threads per session (onnx only). */
  onnxThreads?: number;
  workers: number;
  batching: boolean;
  maxBatchSize: number;
  maxQueueDelayMs: number | null;
}

interface Run extends LoadResult {
  config: string;
  /** Which round of the matrix (1..BENCH_ROUNDS); 0 for experiments and the engine. */
  round: number;
  kind: 'reference' | 'service' | 'engine';
  payload: string;
  payloadBytes: number;
  loadGeneratorWorkers: number;
  setting?: ServiceSetting;
  cpu: CpuUse;
  /** Server CPU per request in microseconds: its main thread, and its other threads. */
  mainUsPerRequest: number;
  otherUsPerRequest: number;
  /** Service only: mean rows per batch and mean queue wait during the run. */
  meanBatchRows?: number;
  meanQueueMs?: number;
  experiment?: string;
}

const runs: Run[] = [];
const failures: string[] = [];

/** A server under test, started once and measured at every level. */
interface Target {
  config: string;
  kind: 'reference' | 'service';
  setting?: ServiceSetting;
  server: Started;
}

async function measure(
  target: Target,
  payload: Payload,
  connections: number,
  extra: { round?: number; experiment?: string; loadWorkers?: number } = {},
): Promise<Run> {
  const { server, config, kind } = target;
  const pid = server.child.pid;
  const loadOptions = extra.loadWorkers ? { workers: extra.loadWorkers } : {};
  if (warmupS > 0) await runLoad(server.url, payload, connections, warmupS, loadOptions);
  const counters = kind === 'service' ? await batchCounters(server.url) : undefined;
  const before = await cpuSnapshot(pid);
  const result = await runLoad(server.url, payload, connections, durationS, loadOptions);
  const after = await cpuSnapshot(pid);
  const countersAfter = kind === 'service' ? await batchCounters(server.url) : undefined;
  const run: Run = {
    config,
    kind,
    round: extra.round ?? 0,
    payload: payload.name,
    payloadBytes: Buffer.byteLength(payload.body),
    loadGeneratorWorkers: extra.loadWorkers ?? 0,
    ...(target.setting ? { setting: target.setting } : {}),
    ...(extra.experiment ? { experiment: extra.experiment } : {}),
    ...result,
    cpu: cpuUse(before, after, pid),
    mainUsPerRequest: NaN,
    otherUsPerRequest: NaN,
  };
  run.mainUsPerRequest = round((run.cpu.serverMain / run.okPerSecond) * 1e6, 0);
  run.otherUsPerRequest = round((run.cpu.serverOther / run.okPerSecond) * 1e6, 0);
  if (counters && countersAfter) {
    const batches = countersAfter.batches - counters.batches;
    if (batches > 0) {
      run.meanBatchRows = round((countersAfter.batchRows - counters.batchRows) / batches, 2);
      run.meanQueueMs = round(
        ((countersAfter.queueSeconds - counters.queueSeconds) / batches) * 1000,
        2,
      );
    }
  }
  runs.push(run);
  const failed = run.errors + run.non2xx;
  if (failed > 0) {
    const message = `${config} at concurrency ${connections}: ${run.errors} errors (${run.timeouts} timeouts), ${run.non2xx} non-2xx ${JSON.stringify(run.statusCodes)} ${run.errorSamples.join('; ')}`;
    failures.push(message);
    process.stderr.write(`\n!!! FAILED REQUESTS: ${message}\n\n`);
  }
  process.stderr.write(
    `  ${(extra.experiment ? `${config} [${extra.experiment}]` : config).padEnd(40)} c=${String(connections).padStart(3)} ${run.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${fmt(run.latencyMs.p50, 2)}  p99 ${fmt(run.latencyMs.p99, 2)} ms  batch ${fmt(run.meanBatchRows, 1)}  cores: gen ${fmt(run.cpu.loadGenerator, 2)} main ${fmt(run.cpu.serverMain, 2)} other ${fmt(run.cpu.serverOther, 2)} others ${fmt(run.cpu.others, 2)}  main ${fmt(run.mainUsPerRequest, 0)} us/req\n`,
  );
  if (server.child.exitCode !== null || server.child.signalCode !== null) {
    throw new Error(`${config} exited during the run:\n${server.tail()}`);
  }
  return run;
}

/** Sends one request and checks the answer: a [1, 10] probability row. */
async function checkAnswer(url: string, payload: Payload): Promise<number[]> {
  const res = await fetch(`${url}/v2/models/${MODEL}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...payload.headers },
    body: payload.body,
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${text.slice(0, 300)}`);
  const json = JSON.parse(text) as { outputs?: { shape?: number[]; data?: number[] }[] };
  const out = json.outputs?.[0];
  if (out?.shape?.join(',') !== '1,10' || out.data?.length !== 10) {
    throw new Error(`${url} answered an unexpected output: ${text.slice(0, 300)}`);
  }
  return out.data;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - (b[i] ?? NaN)) < 1e-5);
}

// --- the in-process ceiling ----------------------------------------------------------------

interface CeilingRow {
  /** Measured before the servers ran, or again after them (the machine's load drifts). */
  phase: 'start' | 'end';
  batch: number;
  threads: number;
  rowsPerSecond: number;
  perThread: number[];
  /** Busy cores of the whole machine meanwhile (ours plus everybody else's). */
  machineCores: number;
  /** The machine minus this process: other people's processes, in cores. */
  othersCores: number;
}

function tsxExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if ((arg === '--import' || arg === '--loader') && /^tsx(\/|$)/.test(argv[i + 1] ?? '')) i++;
    else if (/^--(import|loader)=tsx(\/|$)/.test(arg)) continue;
    else out.push(arg);
  }
  return out;
}

/** A worker thread from TypeScript source: Node 20 needs tsx registered inside the thread. */
function tsWorker(file: URL, workerData: unknown): Worker {
  const bootstrap =
    `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};\n` +
    `register();\n` +
    `await import(${JSON.stringify(file.href)});\n`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`), {
    workerData,
    execArgv: tsxExecArgv(),
  });
}

async function measureCeiling(
  files: Map<string, Uint8Array>,
  phase: 'start' | 'end',
  batches: readonly number[],
): Promise<CeilingRow[]> {
  const init: CeilingInit = {
    files: Object.fromEntries(files),
    rowShape: ROW_SHAPE,
    warmupBatches: [...batches],
  };
  const workers = Array.from({ length: cores }, () =>
    tsWorker(new URL('./ceiling-worker.ts', import.meta.url), init),
  );
  const next = (worker: Worker) =>
    new Promise<CeilingResponse>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      worker.once('error', onError);
      worker.once('message', (message: CeilingResponse) => {
        worker.off('error', onError);
        resolve(message);
      });
    });
  try {
    await Promise.all(workers.map(next));
    const rows: CeilingRow[] = [];
    const measure = async (batch: number, threads: Worker[]) => {
      const answers = threads.map(next);
      const before = await machineTicks();
      const self = process.cpuUsage();
      const t0 = performance.now();
      for (const w of threads) {
        w.postMessage({ type: 'run', batch, seconds: ceilingSeconds } satisfies CeilingRequest);
      }
      const done = await Promise.all(answers);
      const used = process.cpuUsage(self);
      const ours = (used.user + used.system) / 1000 / (performance.now() - t0);
      const after = await machineTicks();
      const machine = ((after.busy - before.busy) / (after.total - before.total)) * cores;
      const perThread = done.map((d) => (d.type === 'done' ? (d.rows / d.ms) * 1000 : NaN));
      const row: CeilingRow = {
        phase,
        batch,
        threads: threads.length,
        rowsPerSecond: round(perThread.reduce((a, b) => a + b, 0)),
        perThread: perThread.map((r) => round(r)),
        machineCores: round(machine, 2),
        othersCores: round(Math.max(0, machine - ours), 2),
      };
      rows.push(row);
      process.stderr.write(
        `  ceiling (${phase}) batch ${String(batch).padStart(3)} x ${threads.length} thread(s): ${row.rowsPerSecond.toFixed(0)} rows/s (${row.perThread.map((r) => r.toFixed(0)).join(' + ')}); machine busy ${row.machineCores} cores, of which others ${row.othersCores}\n`,
      );
    };
    for (const batch of batches) await measure(batch, workers);
    const best = rows.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
    // One thread alone at the best batch size: how well the threads scale.
    if (phase === 'start' && cores > 1 && workers[0] !== undefined) {
      await measure(best.batch, [workers[0]]);
    }
    return rows;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

// --- the engine alone (no HTTP) -------------------------------------------------------------

async function measureEngine(
  files: Map<string, Uint8Array>,
  input: Float32Array,
  concurrency: number,
  delayMs: number,
): Promise<void> {
  const engine = await InferenceEngine.start({
    workers: cores,
    backend: 'wasm',
    batching: { maxBatchSize: 32, maxQueueDelayMs: delayMs },
  });
  try {
    const key = `${MODEL}@1`;
    await engine.load(key, files, { inputShape: [-1, ...ROW_SHAPE] });
    const batches: number[] = [];
    engine.onBatch((s) => batches.push(s.size));
    const shape = [1, ...ROW_SHAPE];
    const loop = async (seconds: number, latencies?: number[]) => {
      const deadline = performance.now() + seconds * 1000;
      let rows = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < deadline) {
            const t = performance.now();
            await engine.predict(key, input.slice(), shape);
            latencies?.push(performance.now() - t);
            rows++;
          }
        }),
      );
      return rows;
    };
    await loop(warmupS);
    batches.length = 0;
    const latencies: number[] = [];
    const before = await cpuSnapshot(process.pid);
    const rows = await loop(durationS, latencies);
    const after = await cpuSnapshot(process.pid);
    latencies.sort((a, b) => a - b);
    const seconds = (after.at - before.at) / 1000;
    const cpu = cpuUse(before, after, process.pid);
    runs.push({
      config: `engine in-process, ${cores} workers, batch<=32 d${delayMs}`,
      kind: 'engine',
      round: 0,
      experiment: 'engine without HTTP (callers in the bench process)',
      payload: 'Float32Array (no JSON)',
      payloadBytes: input.byteLength,
      loadGeneratorWorkers: 0,
      setting: {
        engine: 'tfjs',
        workers: cores,
        batching: true,
        maxBatchSize: 32,
        maxQueueDelayMs: delayMs,
      },
      connections: concurrency,
      seconds: round(seconds, 2),
      requestsPerSecond: round(rows / seconds),
      okPerSecond: round(rows / seconds),
      ok: rows,
      latencyMs: {
        p50: round(percentile(latencies, 50), 2),
        p95: round(percentile(latencies, 95), 2),
        p99: round(percentile(latencies, 99), 2),
        max: round(latencies.at(-1) ?? NaN, 2),
        mean: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), 2),
      },
      latencySource: 'responses',
      autocannonLatencyMs: { p50: NaN, p97_5: NaN, p99: NaN },
      errors: 0,
      timeouts: 0,
      non2xx: 0,
      statusCodes: {},
      errorSamples: [],
      // Here the "server" is this process: main = the callers and the pool, other = workers.
      cpu: { ...cpu, loadGenerator: NaN },
      mainUsPerRequest: round((cpu.serverMain / (rows / seconds)) * 1e6, 0),
      otherUsPerRequest: round((cpu.serverOther / (rows / seconds)) * 1e6, 0),
      meanBatchRows: round(batches.reduce((a, b) => a + b, 0) / Math.max(1, batches.length), 2),
    });
    process.stderr.write(
      `  engine c=${concurrency}: ${(rows / seconds).toFixed(0)} rows/s, mean batch ${runs.at(-1)?.meanBatchRows}, main ${cpu.serverMain} other ${cpu.serverOther} cores\n`,
    );
  } finally {
    await engine.close();
  }
}

// --- payloads and per-request costs ---------------------------------------------------------

/** The shortest decimal text that reads back as the same float32. */
function shortFloat32(value: number): string {
  for (let digits = 1; digits <= 9; digits++) {
    const text = value.toPrecision(digits);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(value);
}

function nest(flat: readonly number[], shape: readonly number[]): unknown[] {
  const [head, ...rest] = shape;
  if (head === undefined) return [];
  const size = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: head }, (_, i) =>
    rest.length === 0 ? flat[i] : nest(flat.slice(i * size, (i + 1) * size), rest),
  );
}

type PayloadKind = 'flat' | 'short' | 'nested' | 'binary';

function payloads(input: Float32Array): Record<PayloadKind, Payload> {
  const shape = [1, ...ROW_SHAPE];
  const values = Array.from(input);
  const request = (data: unknown) => ({
    inputs: [{ name: 'image', shape, datatype: 'FP32', data }],
  });
  const head = JSON.stringify(request([])).replace('"data":[]', '"data":');
  const [prefix = '', suffix = ''] = head.split('"data":');
  return {
    flat: { name: 'flat', body: JSON.stringify(request(values)) },
    short: {
      name: 'flat, shortest float32 digits',
      body: `${prefix}"data":[${values.map(shortFloat32).join(',')}]${suffix}`,
    },
    nested: { name: 'nested [1][32][32][3]', body: JSON.stringify(request(nest(values, shape))) },
    binary: binaryPayload(input, shape),
  };
}

/** The binary tensor data extension (tritonclient's default): JSON header + raw FP32 LE. */
function binaryPayload(input: Float32Array, shape: number[]): Payload {
  const raw = Buffer.alloc(input.length * 4);
  input.forEach((v, i) => raw.writeFloatLE(v, i * 4));
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'image',
          shape,
          datatype: 'FP32',
          parameters: { binary_data_size: raw.length },
        },
      ],
    }),
  );
  return {
    name: 'binary tensor data extension',
    body: Buffer.concat([header, raw]),
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    },
  };
}

/** Microseconds per call: the best (least disturbed) and the median of 15 rounds of 40 ms. */
function timeIt(fn: () => void): { minUs: number; medianUs: number } {
  const rounds: number[] = [];
  for (let r = 0; r < 15; r++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < 40) {
      fn();
      n++;
    }
    rounds.push(((performance.now() - start) * 1000) / n);
  }
  rounds.sort((a, b) => a - b);
  return { minUs: round(rounds[0] ?? NaN, 1), medianUs: round(rounds[7] ?? NaN, 1) };
}

interface RequestCost {
  payload: string;
  bytes: number;
  /** Body -> JSON as the service does it: `splitInferBody` (+ `inlineBinaryInputs`). */
  parse: { minUs: number; medianUs: number };
  /** The service's V2 decoder (`decodeInferRequest`) on the parsed body. */
  decode: { minUs: number; medianUs: number };
  /** For scale: `Float32Array.from` of the same parsed data (no checks). */
  float32ArrayFrom: { minUs: number; medianUs: number };
  /** `encodeInferResponse` + `JSON.stringify` of a [1, 10] answer. */
  encodeResponse: { minUs: number; medianUs: number };
}

function requestCosts(all: Payload[], manifest: ModelManifest): RequestCost[] {
  const limits = { maxElements: 4_000_000, maxBatch: 1024 };
  const output = { name: 'probabilities', shape: [1, 10], data: new Float32Array(10).fill(0.1) };
  return all.map((payload) => {
    const body = Buffer.from(payload.body);
    const length = payload.headers?.['inference-header-content-length'];
    const parse = () => {
      const { json, binary } = splitInferBody(body, length);
      return inlineBinaryInputs(json, binary);
    };
    // An FP32 binary input comes back as a Float32Array, JSON data as (nested) lists.
    const json = parse() as { inputs: { data: number[] | Float32Array }[] };
    const raw = json.inputs[0]?.data ?? [];
    const data = raw instanceof Float32Array ? raw : raw.flat(3);
    return {
      payload: payload.name,
      bytes: body.length,
      parse: timeIt(parse),
      decode: timeIt(() => decodeInferRequest(json, manifest, limits)),
      float32ArrayFrom: timeIt(() => Float32Array.from(data)),
      encodeResponse: timeIt(() =>
        JSON.stringify(encodeInferResponse(MODEL, 1, [output], undefined, undefined)),
      ),
    };
  });
}

// --- setup ----------------------------------------------------------------------------------

const IMAGE_SPEC: ImagePreprocessing = {
  kind: 'image',
  height: 32,
  width: 32,
  channels: 3,
  normalization: { type: 'rescale' },
};

async function testImage(): Promise<{ source: string; input: Float32Array }> {
  const candidates = [
    env.BENCH_IMAGE,
    sharedDataRoot ? path.join(sharedDataRoot, 'cifar10/images/cat_0003.jpg') : undefined,
  ].filter((c): c is string => c !== undefined && existsSync(c));
  const file = candidates[0];
  if (file !== undefined) {
    const pixels = await decodeImage(await readFile(file), { height: 32, width: 32, channels: 3 });
    return { source: file, input: imagePixelsToInput(pixels, IMAGE_SPEC) };
  }
  const generated = syntheticImages({ count: 1, height: 32, width: 32, classes: 10, seed: 1 });
  return {
    source: 'generated (syntheticImages, seed 1)',
    input: imagePixelsToInput(generated.pixels, IMAGE_SPEC),
  };
}

/** The ONNX form of the TF.js model in `files`, same weights (see the header). */
async function onnxForm(files: Map<string, Uint8Array>): Promise<Uint8Array> {
  if (!existsSync(ML_PYTHON)) {
    throw new Error(
      `BENCH_ENGINES includes onnx, which needs ${ML_PYTHON}: run node scripts/setup-python.mjs (or set BENCH_ENGINES=tfjs)`,
    );
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mscr-bench-onnx-'));
  try {
    for (const [name, bytes] of files) await writeFile(path.join(dir, name), bytes);
    execFileSync(ML_PYTHON, [
      path.join(root, 'bench/tfjs_sequential_to_onnx.py'),
      dir,
      path.join(dir, 'model.onnx'),
    ]);
    return new Uint8Array(await readFile(path.join(dir, 'model.onnx')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// --- the ONNX Runtime in-process ceiling --------------------------------------------------------

interface OnnxCeilingRow {
  batch: number;
  sessions: number;
  threadsPerSession: number;
  rowsPerSecond: number;
}

/**
 * ONNX Runtime alone, in this process: `sessions` sessions of `threads` threads each, each
 * running a pre-built batch in a loop (session.run is asynchronous, so they overlap).
 */
async function measureOnnxCeiling(
  onnx: Uint8Array,
  input: Float32Array,
): Promise<OnnxCeilingRow[]> {
  const ort = await import('onnxruntime-node');
  const rows: OnnxCeilingRow[] = [];
  for (const [sessions, threads] of [
    [1, cores],
    [cores, 1],
  ] as const) {
    const list = await Promise.all(
      Array.from({ length: sessions }, () =>
        ort.InferenceSession.create(onnx, {
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
        }),
      ),
    );
    for (const batch of ceilingBatches) {
      const data = new Float32Array(batch * input.length);
      for (let b = 0; b < batch; b++) data.set(input, b * input.length);
      const feed = { image: new ort.Tensor('float32', data, [batch, ...ROW_SHAPE]) };
      for (const session of list) await session.run(feed); // warm-up
      let done = 0;
      const started = performance.now();
      const end = started + ceilingSeconds * 1000;
      await Promise.all(
        list.map(async (session) => {
          while (performance.now() < end) {
            await session.run(feed);
            done += batch;
          }
        }),
      );
      const rowsPerSecond = round(done / ((performance.now() - started) / 1000), 0);
      rows.push({ batch, sessions, threadsPerSession: threads, rowsPerSecond });
      process.stderr.write(
        `  onnx ${sessions} session(s) x ${threads} thread(s), batch ${batch}: ${rowsPerSecond} rows/s\n`,
      );
    }
    await Promise.all(list.map((session) => session.release()));
  }
  return rows;
}

async function publishModel(storeDir: string): Promise<{
  manifest: ModelManifest;
  files: Map<string, Uint8Array>;
}> {
  const model = getArchitecture(MODEL).build({
    task: 'image-classification',
    height: 32,
    width: 32,
    channels: 3,
    classes: 10,
  });
  const files = await modelToFiles(model);
  const parameters = model.countParams();
  model.dispose();
  if (engines.includes('onnx')) files.set('model.onnx', await onnxForm(files));
  const draft: ManifestDraft = {
    name: MODEL,
    framework: { name: 'tfjs', version: tf.version.tfjs, format: 'layers-model' },
    task: 'image-classification',
    architecture: MODEL,
    inputs: [{ name: 'image', dtype: 'float32', shape: [-1, ...ROW_SHAPE] }],
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
      parameters,
    },
    data: { fingerprint: '0'.repeat(64), sources: ['bench: untrained'] },
    ...(files.has('model.onnx') ? { artifacts: { onnx: { file: 'model.onnx' } } } : {}),
  };
  const manifest = await openStore(storeDir).publish(draft, files);
  return { manifest, files };
}

// --- summary --------------------------------------------------------------------------------

function peak(list: readonly Run[]): Run | undefined {
  return list.reduce<Run | undefined>(
    (best, r) => (best === undefined || r.requestsPerSecond > best.requestsPerSecond ? r : best),
    undefined,
  );
}

function ratio(
  a: number | null | undefined,
  b: number | null | undefined,
  digits = 2,
): number | null {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return round(a / b, digits);
}

function fmt(value: number | null | undefined, digits = 1): string {
  return value == null || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

/** Per configuration and concurrency, the round with the most req/s. */
function bestOfRounds(list: readonly Run[]): Run[] {
  const best = new Map<string, Run>();
  for (const r of list) {
    const key = `${r.config}|${r.connections}|${r.experiment ?? ''}`;
    const seen = best.get(key);
    if (seen === undefined || r.requestsPerSecond > seen.requestsPerSecond) best.set(key, r);
  }
  return [...best.values()];
}

function peakCeiling(rows: readonly CeilingRow[]): CeilingRow | undefined {
  return rows
    .filter((c) => c.threads === cores)
    .reduce<CeilingRow | undefined>(
      (best, c) => (best === undefined || c.rowsPerSecond > best.rowsPerSecond ? c : best),
      undefined,
    );
}

function markdownTable(list: readonly Run[], all: readonly Run[]): string {
  const lines = [
    '| config | conc. | req/s | p50 ms | p95 ms | p99 ms | errors / non-2xx | mean batch | queue ms | CPU cores: load gen / server main / server other / others | server CPU us/req: main / other | req/s per round |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |',
  ];
  for (const r of list) {
    const rounds = all
      .filter(
        (x) =>
          x.config === r.config && x.connections === r.connections && x.experiment === r.experiment,
      )
      .map((x) => fmt(x.requestsPerSecond, 0))
      .join(' / ');
    lines.push(
      `| ${r.config}${r.experiment ? ` [${r.experiment}]` : ''} | ${r.connections} | ${fmt(r.requestsPerSecond, 0)} | ${fmt(r.latencyMs.p50, 2)} | ${r.latencyMs.p95 === null ? 'n/a' : fmt(r.latencyMs.p95, 2)} | ${fmt(r.latencyMs.p99, 2)} | ${r.errors} / ${r.non2xx} | ${fmt(r.meanBatchRows, 1)} | ${fmt(r.meanQueueMs, 2)} | ${fmt(r.cpu.loadGenerator, 2)} / ${fmt(r.cpu.serverMain, 2)} / ${fmt(r.cpu.serverOther, 2)} / ${fmt(r.cpu.others, 2)} | ${fmt(r.mainUsPerRequest, 0)} / ${fmt(r.otherUsPerRequest, 0)} | ${rounds} |`,
    );
  }
  return lines.join('\n');
}

// --- main -----------------------------------------------------------------------------------

const startedAt = new Date();
const codeAtStart = gitState();
const loadAverageStart = os.loadavg().map((l) => round(l, 2));
const tmp = await mkdtemp(path.join(os.tmpdir(), 'mscr-serve-bench-'));
cleanup.tmpDir = tmp;
const storeDir = path.join(tmp, 'models');
const ceiling: CeilingRow[] = [];
const onnxCeiling: OnnxCeilingRow[] = [];
let costs: RequestCost[] = [];
let imageSource = '';
let backendInfo: unknown;
let payloadList: Record<PayloadKind, Payload> | undefined;
const targets: Target[] = [];

function serviceLabel(s: ServiceSetting): string {
  const engine = s.engine === 'onnx' ? `onnx x${s.onnxThreads ?? 1} threads` : 'tfjs';
  return `mscr ${engine}, ${s.workers} worker${s.workers > 1 ? 's' : ''}, ${s.batching ? `batch<=${s.maxBatchSize} delay ${s.maxQueueDelayMs} ms` : 'no batching'}`;
}

async function startService(s: ServiceSetting, check: Payload, answer: number[]): Promise<Started> {
  const args = [
    'bin/mscr.js',
    'serve',
    '--store',
    storeDir,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--workers',
    String(s.workers),
    '--engine',
    s.engine,
    ...(s.onnxThreads === undefined ? [] : ['--onnx-threads', String(s.onnxThreads)]),
    '--max-batch-size',
    String(s.maxBatchSize),
    ...(s.maxQueueDelayMs === null ? [] : ['--max-queue-delay', String(s.maxQueueDelayMs)]),
    '--log-level',
    'warn',
    '--poll-interval',
    '60',
    '--backend',
    'wasm',
    '--drain-timeout',
    '5',
  ];
  if (cpuProfDir) {
    const dir = path.join(cpuProfDir, serviceLabel(s).replace(/[^a-z0-9]+/gi, '-'));
    await mkdir(dir, { recursive: true });
    args.unshift('--cpu-prof', `--cpu-prof-dir=${dir}`);
  }
  const server = await startChild(serviceLabel(s), args, /mscr serving .* at (http:\/\/\S+)/);
  await waitReady(server.url);
  const got = await checkAnswer(server.url, check);
  if (!sameNumbers(got, answer)) {
    throw new Error(`${serviceLabel(s)} and the reference server disagree: ${got} vs ${answer}`);
  }
  return server;
}

try {
  backendInfo = await initBackend('wasm');
  const { manifest, files } = await publishModel(storeDir);
  const image = await testImage();
  imageSource = image.source;
  payloadList = payloads(image.input);
  const { flat } = payloadList;
  process.stderr.write(
    `model ${MODEL} v${manifest.version} (random weights) in ${storeDir}; payload ${Buffer.byteLength(flat.body)} bytes from ${image.source}\n` +
      `load average at start: ${loadAverageStart.join(' ')}\n`,
  );
  costs = requestCosts(Object.values(payloadList), manifest);

  process.stderr.write(
    `in-process ceiling (${cores} threads, ${ceilingSeconds} s per batch size):\n`,
  );
  ceiling.push(...(await measureCeiling(files, 'start', ceilingBatches)));
  const onnxBytes = files.get('model.onnx');
  if (onnxBytes !== undefined) {
    process.stderr.write(`ONNX Runtime in-process ceiling (${ceilingSeconds} s per batch size):\n`);
    onnxCeiling.push(...(await measureOnnxCeiling(onnxBytes, image.input)));
  }

  if (experiments) {
    process.stderr.write('engine alone, no HTTP:\n');
    await measureEngine(files, image.input, Math.max(...concurrencies), delays[0] ?? 2);
  }

  // Every server is started once and stays up (idle ones cost nothing), so each concurrency
  // level measures all configurations back to back: drift in the machine's load hits them alike.
  process.stderr.write('starting the servers ...\n');
  const reference = await startChild(
    'reference server',
    ['--import', 'tsx', 'bench/reference-server.ts', '--store', storeDir, '--model', MODEL],
    /^listening (http:\/\/\S+)/,
  );
  targets.push({
    config: 'reference (Express, main thread)',
    kind: 'reference',
    server: reference,
  });
  await waitReady(reference.url);
  const answer = await checkAnswer(reference.url, flat);
  const settings: ServiceSetting[] = engines.includes('tfjs')
    ? workerCounts.flatMap((workers) => [
        {
          engine: 'tfjs' as const,
          workers,
          batching: false,
          maxBatchSize: 1,
          maxQueueDelayMs: null,
        },
        ...delays.map((d) => ({
          engine: 'tfjs' as const,
          workers,
          batching: true,
          maxBatchSize: 32,
          maxQueueDelayMs: d,
        })),
      ])
    : [];
  if (engines.includes('onnx')) {
    // Threads x workers = cores: all threads in one worker, or one thread per worker.
    for (const workers of [...new Set([1, cores])]) {
      const onnxThreads = Math.max(1, Math.floor(cores / workers));
      settings.push(
        {
          engine: 'onnx',
          onnxThreads,
          workers,
          batching: false,
          maxBatchSize: 1,
          maxQueueDelayMs: null,
        },
        {
          engine: 'onnx',
          onnxThreads,
          workers,
          batching: true,
          maxBatchSize: 32,
          maxQueueDelayMs: delays[0] ?? 0,
        },
      );
    }
  }
  for (const setting of settings) {
    const server = await startService(setting, flat, answer);
    targets.push({ config: serviceLabel(setting), kind: 'service', setting, server });
  }

  for (let r = 1; r <= rounds; r++) {
    for (const connections of concurrencies) {
      process.stderr.write(`round ${r}/${rounds}, concurrency ${connections}:\n`);
      // Alternate the order between rounds, so no configuration always goes first.
      const order = r % 2 === 1 ? targets : [...targets].reverse();
      for (const target of order) await measure(target, flat, connections, { round: r });
    }
  }

  if (experiments && payloadList) {
    const best = bestOfRounds(runs.filter((x) => x.kind === 'service' && !x.experiment));
    const top = peak(best);
    // Also at the best all-cores configuration: the payload decides how the cores are shared.
    const topAllCores = peak(
      best.filter((r) => r.setting?.workers === cores && r.setting.batching),
    );
    const places = [top, topAllCores].filter(
      (r, i, all): r is Run =>
        r !== undefined && all.findIndex((x) => x?.config === r.config) === i,
    );
    for (const place of places) {
      const target = targets.find((t) => t.config === place.config);
      if (target === undefined) continue;
      const c = place.connections;
      process.stderr.write(`experiments at ${place.config}, c=${c}:\n`);
      for (const variant of [payloadList.short, payloadList.nested]) {
        if (!sameNumbers(await checkAnswer(target.server.url, variant), answer)) {
          throw new Error(`the ${variant.name} payload changes the answer`);
        }
      }
      let binary = true;
      try {
        if (!sameNumbers(await checkAnswer(target.server.url, payloadList.binary), answer)) {
          throw new Error('the binary payload changes the answer');
        }
      } catch (error) {
        binary = false;
        process.stderr.write(`  binary tensor data not measured: ${(error as Error).message}\n`);
      }
      await measure(target, flat, c, { experiment: 'same again (noise)' });
      await measure(target, payloadList.short, c, { experiment: 'shortest float32 digits' });
      await measure(target, payloadList.nested, c, { experiment: 'nested data' });
      if (binary) {
        await measure(target, payloadList.binary, c, { experiment: 'binary tensor data' });
      }
      if (place === top) {
        await measure(target, flat, c, {
          experiment: `autocannon in ${cores} worker threads`,
          loadWorkers: cores,
        });
        const ref = targets.find((t) => t.kind === 'reference');
        if (ref) {
          await measure(ref, payloadList.short, c, { experiment: 'shortest float32 digits' });
        }
      }
    }
  }

  await Promise.all(targets.map((t) => stopChild(t.server.child)));
  process.stderr.write('in-process ceiling again, servers stopped:\n');
  const bestStart = peakCeiling(ceiling);
  ceiling.push(...(await measureCeiling(files, 'end', [bestStart?.batch ?? 32])));
} finally {
  await Promise.all(targets.map((t) => stopChild(t.server.child)));
  killAllNow();
  await rm(tmp, { recursive: true, force: true });
}

// --- results --------------------------------------------------------------------------------

const table = bestOfRounds(runs.filter((r) => !r.experiment && r.kind !== 'engine'));
const serviceRuns = table.filter((r) => r.kind === 'service');
const referenceRuns = table.filter((r) => r.kind === 'reference');
const servicePeak = peak(serviceRuns);
const referencePeak = peak(referenceRuns);
const ceilingBest = peakCeiling(ceiling);
const ceilingSingle = ceiling.find((c) => c.threads === 1);
const serviceAtRefPeak = referencePeak
  ? serviceRuns.find(
      (r) => r.config === servicePeak?.config && r.connections === referencePeak.connections,
    )
  : undefined;
const referenceAtServicePeak = servicePeak
  ? referenceRuns.find((r) => r.connections === servicePeak.connections)
  : undefined;
const bestDelay = workerCounts.map((workers) => {
  const on = peak(serviceRuns.filter((r) => r.setting?.workers === workers && r.setting.batching));
  return {
    workers,
    bestMaxQueueDelayMs: on?.setting?.maxQueueDelayMs ?? null,
    peakRequestsPerSecond: on?.requestsPerSecond ?? null,
  };
});
const configPeaks = [...new Set(table.map((r) => r.config))].map((config) => {
  const p = peak(table.filter((r) => r.config === config));
  return {
    config,
    peakRequestsPerSecond: p?.requestsPerSecond ?? null,
    atConcurrency: p?.connections ?? null,
    p99Ms: p?.latencyMs.p99 ?? null,
    overCeiling: ratio(p?.requestsPerSecond, ceilingBest?.rowsPerSecond),
    overReference: ratio(p?.requestsPerSecond, referencePeak?.requestsPerSecond),
  };
});
const overCeiling = ratio(servicePeak?.requestsPerSecond, ceilingBest?.rowsPerSecond);
const overReference = ratio(servicePeak?.requestsPerSecond, referencePeak?.requestsPerSecond);
const p99AtRef = ratio(serviceAtRefPeak?.latencyMs.p99, referencePeak?.latencyMs.p99);
const p99AtService = ratio(servicePeak?.latencyMs.p99, referenceAtServicePeak?.latencyMs.p99);

const onnxCeilingBest = onnxCeiling.reduce<OnnxCeilingRow | undefined>(
  (best, c) => (best === undefined || c.rowsPerSecond > best.rowsPerSecond ? c : best),
  undefined,
);
const enginePeaks = engines.map((engine) => {
  const p = peak(serviceRuns.filter((r) => r.setting?.engine === engine));
  return {
    engine,
    config: p?.config ?? null,
    peakRequestsPerSecond: p?.requestsPerSecond ?? null,
    atConcurrency: p?.connections ?? null,
    p99Ms: p?.latencyMs.p99 ?? null,
    p50AtConcurrency1Ms:
      peak(serviceRuns.filter((r) => r.setting?.engine === engine && r.connections === 1))
        ?.latencyMs.p50 ?? null,
  };
});

const summary = {
  onnxCeilingBest: onnxCeilingBest ?? null,
  enginePeaks,
  method:
    `best of ${rounds} round(s) per configuration and concurrency (interference from other ` +
    'processes only lowers throughput); every round is in `runs`',
  ceilingBest: ceilingBest ?? null,
  ceilingOneThread: ceilingSingle ?? null,
  servicePeak: servicePeak
    ? {
        config: servicePeak.config,
        concurrency: servicePeak.connections,
        requestsPerSecond: servicePeak.requestsPerSecond,
        p99Ms: servicePeak.latencyMs.p99,
      }
    : null,
  referencePeak: referencePeak
    ? {
        concurrency: referencePeak.connections,
        requestsPerSecond: referencePeak.requestsPerSecond,
        p99Ms: referencePeak.latencyMs.p99,
      }
    : null,
  servicePeakOverCeiling: overCeiling,
  servicePeakOverReferencePeak: overReference,
  p99AtReferencePeakConcurrency: {
    concurrency: referencePeak?.connections ?? null,
    serviceConfig: servicePeak?.config ?? null,
    serviceMs: serviceAtRefPeak?.latencyMs.p99 ?? null,
    referenceMs: referencePeak?.latencyMs.p99 ?? null,
    serviceOverReference: p99AtRef,
  },
  p99AtServicePeakConcurrency: {
    concurrency: servicePeak?.connections ?? null,
    serviceMs: servicePeak?.latencyMs.p99 ?? null,
    referenceMs: referenceAtServicePeak?.latencyMs.p99 ?? null,
    serviceOverReference: p99AtService,
  },
  bestBatchingDelay: bestDelay,
  configPeaks,
  targets: {
    'service peak >= 0.8 x in-process ceiling': (overCeiling ?? 0) >= 0.8,
    'service peak >= 1.7 x reference peak': (overReference ?? 0) >= 1.7,
    'p99 no worse than the reference':
      (p99AtRef ?? Infinity) <= 1 && (p99AtService ?? Infinity) <= 1,
    'zero failed requests': failures.length === 0,
  },
  failedRequests: failures,
};

const loadAverageEnd = os.loadavg().map((l) => round(l, 2));

/** The code measured: the commit, and files changed since (others edit the tree meanwhile). */
function gitState(): { commit: string | null; uncommitted: string[] } {
  const git = (...args: string[]) =>
    execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    return {
      commit: git('rev-parse', 'HEAD').trim(),
      uncommitted: git('status', '--porcelain')
        .split('\n')
        .filter((l) => l.trim() !== ''),
    };
  } catch {
    return { commit: null, uncommitted: [] };
  }
}

const result = {
  benchmark: 'serve',
  date: startedAt.toISOString(),
  durationS: round((Date.now() - startedAt.getTime()) / 1000, 0),
  machine: {
    cores,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
    node: process.version,
    tfjs: tf.version.tfjs,
    loadAverageStart,
    loadAverageEnd,
  },
  code: { atStart: codeAtStart, atEnd: gitState() },
  backend: backendInfo,
  model: { name: MODEL, weights: 'random (inference cost does not depend on training)' },
  payload: {
    image: imageSource,
    bytes: payloadList ? Buffer.byteLength(payloadList.flat.body) : null,
    shape: [1, ...ROW_SHAPE],
    datatype: 'FP32',
    data: 'flat, row-major, x/255 as float32 printed by JSON.stringify',
  },
  options: {
    concurrencies,
    durationS,
    warmupS,
    rounds,
    workerCounts,
    delays,
    ceilingBatches,
    ceilingSeconds,
    experiments,
    engines,
    cpuProfDir: cpuProfDir ?? null,
  },
  notes: [
    "req/s is autocannon's mean of its per-second samples; every request carries one row, so req/s = rows/s.",
    'Latency percentiles come from every 2xx response time (autocannon "response" events); with autocannon in worker threads only its histogram is available (no p95).',
    "CPU is in cores over the measured run: the bench process (= the load generator), the server's main thread, its other threads (inference workers, GC), and the whole machine (also other people's processes).",
    'Load generator and server share the same cores; the in-process ceiling runs with no server and no load generator.',
  ],
  requestCosts: costs,
  ceiling,
  onnxCeiling,
  summary,
  runs,
};

await mkdir(path.dirname(outJson), { recursive: true });
await writeFile(outJson, `${JSON.stringify(result, null, 2)}\n`);

const experimentRuns = runs.filter((r) => r.experiment);
const ceilingTable = [
  '| phase | batch | threads | rows/s | per thread | machine busy (cores) | others (cores) |',
  '| --- | ---: | ---: | ---: | --- | ---: | ---: |',
  ...ceiling.map(
    (c) =>
      `| ${c.phase} | ${c.batch} | ${c.threads} | ${fmt(c.rowsPerSecond, 0)} | ${c.perThread.map((r) => fmt(r, 0)).join(' + ')} | ${fmt(c.machineCores, 2)} | ${fmt(c.othersCores, 2)} |`,
  ),
].join('\n');
const us = (t: { minUs: number; medianUs: number }) => `${fmt(t.minUs)} (${fmt(t.medianUs)})`;
const costTable = [
  '| payload | bytes | body -> JSON | V2 decode | Float32Array.from | encode answer |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...costs.map(
    (c) =>
      `| ${c.payload} | ${c.bytes} | ${us(c.parse)} | ${us(c.decode)} | ${us(c.float32ArrayFrom)} | ${us(c.encodeResponse)} |`,
  ),
].join('\n');
const ratios = [
  `- in-process ceiling: ${fmt(ceilingBest?.rowsPerSecond, 0)} rows/s (batch ${ceilingBest?.batch}, ${cores} threads, ${ceilingBest?.phase}); one thread: ${fmt(ceilingSingle?.rowsPerSecond, 0)} rows/s`,
  `- service peak: ${fmt(servicePeak?.requestsPerSecond, 0)} req/s (${servicePeak?.config}, concurrency ${servicePeak?.connections}); reference peak: ${fmt(referencePeak?.requestsPerSecond, 0)} req/s (concurrency ${referencePeak?.connections})`,
  `- service peak / in-process ceiling: **${fmt(overCeiling, 2)}** (target >= 0.80)`,
  `- service peak / reference peak: **${fmt(overReference, 2)}** (target >= 1.7)`,
  `- p99 at the reference's peak concurrency (${summary.p99AtReferencePeakConcurrency.concurrency}): service ${fmt(summary.p99AtReferencePeakConcurrency.serviceMs, 2)} ms vs reference ${fmt(summary.p99AtReferencePeakConcurrency.referenceMs, 2)} ms (ratio ${fmt(p99AtRef, 2)})`,
  `- p99 at the service's peak concurrency (${summary.p99AtServicePeakConcurrency.concurrency}): service ${fmt(summary.p99AtServicePeakConcurrency.serviceMs, 2)} ms vs reference ${fmt(summary.p99AtServicePeakConcurrency.referenceMs, 2)} ms (ratio ${fmt(p99AtService, 2)})`,
  ...(onnxCeilingBest
    ? [
        `- ONNX Runtime in-process ceiling: ${fmt(onnxCeilingBest.rowsPerSecond, 0)} rows/s (batch ${onnxCeilingBest.batch}, ${onnxCeilingBest.sessions} session(s) x ${onnxCeilingBest.threadsPerSession} thread(s))`,
      ]
    : []),
  ...enginePeaks.map(
    (e) =>
      `- ${e.engine} engine peak: ${fmt(e.peakRequestsPerSecond, 0)} req/s (${e.config}, concurrency ${e.atConcurrency}, p99 ${fmt(e.p99Ms, 2)} ms); p50 at concurrency 1: ${fmt(e.p50AtConcurrency1Ms, 2)} ms`,
  ),
  `- best batching delay: ${bestDelay.map((b) => `${b.workers} worker(s): ${b.bestMaxQueueDelayMs} ms`).join('; ')}`,
  `- failed requests: ${failures.length === 0 ? 'none' : failures.join(' | ')}`,
  `- targets: ${Object.entries(summary.targets)
    .map(([k, v]) => `${k}: ${v ? 'met' : 'NOT met'}`)
    .join('; ')}`,
].join('\n');
const markdown = [
  `## Serving benchmark (\`npm run bench\`, ${startedAt.toISOString().slice(0, 10)})`,
  '',
  `${cores} cores (${result.machine.cpuModel}), Node ${process.version}, TF.js ${tf.version.tfjs} wasm backend; ` +
    `load average ${loadAverageStart.join(' ')} at start, ${loadAverageEnd.join(' ')} at end. ` +
    `CIFAR-10 CNN (random weights), one real CIFAR-10 image per request (${result.payload.bytes} bytes of V2 JSON), ` +
    `autocannon over loopback, ${durationS} s per level after ${warmupS} s of warm-up; best of ${rounds} round(s) ` +
    '(req/s of every round in the last column).',
  '',
  markdownTable(table, runs),
  '',
  ...(experimentRuns.length > 0
    ? ['Experiments (one run each):', '', markdownTable(experimentRuns, experimentRuns), '']
    : []),
  'In-process ceiling (worker threads, `model.predict` in a loop; no HTTP, no load generator):',
  '',
  ceilingTable,
  '',
  ...(onnxCeiling.length > 0
    ? [
        'ONNX Runtime in-process ceiling (sessions in this process, `session.run` in a loop):',
        '',
        '| batch | sessions x threads | rows/s |',
        '| ---: | --- | ---: |',
        ...onnxCeiling.map(
          (c) =>
            `| ${c.batch} | ${c.sessions} x ${c.threadsPerSession} | ${fmt(c.rowsPerSecond, 0)} |`,
        ),
        '',
      ]
    : []),
  'Main-thread cost per request in microseconds, best (median) of 15 rounds, in the bench process:',
  '',
  costTable,
  '',
  ratios,
  '',
].join('\n');
await writeFile(outMd, markdown);

console.log(`\n${markdown}`);
console.log(`written to ${outJson} and ${outMd}`);
if (failures.length > 0) {
  console.error(
    `\n!!! ${failures.length} run(s) had failed requests: see above and summary.failedRequests`,
  );
  process.exitCode = 1;
}
