/**
 * `npm run bench:compare`: mscr against the servers people compare it with, on the same
 * model and the same load generator, in ONE run, so the ratios mean something on a noisy
 * shared machine (issue 14, "Speed, measured").
 *
 * Models (bench/compare/models.ts): the CIFAR-10 CNN (random weights; TF.js + its verified
 * ONNX form, as training publishes it) and a ResNet-50 (ONNX, imported with `mscr models
 * import`). Payload: one image per request as a V2 infer request, flat FP32 JSON (58.7 KB for
 * the CNN), and for mscr also the binary tensor data extension.
 *
 * Measured, in this order:
 *   1. in-process ceilings at batch 1 and 32 (bench/compare/ceilings.ts): ONNX Runtime,
 *      TF.js WebAssembly, and TensorFlow (the competitor's engine);
 *   2. servers, all started once and measured back to back at each concurrency (autocannon,
 *      closed loop, BENCH_WARMUP s unrecorded then BENCH_DURATION s):
 *      - KServe (pip kserve, TensorFlow CPU, `--workers <cores>`; bench/kserve_server.py) in a
 *        bench-only Python environment this script installs (bench/compare/python-env.ts);
 *      - Express + onnxruntime-node per request (bench/reference-ort-server.ts);
 *      - `mscr serve --engine onnx` with one worker of `cores` ONNX threads, and with `cores`
 *        workers of one thread; with `--http-processes <cores>` (several HTTP processes
 *        sharing the port, so JSON parsing is not on one main thread); each of the one-
 *        and several-process layouts also with `--onnx-placement main` (the sessions on the
 *        service thread, no hop to a worker), the one-process one also with
 *        `--onnx-spinning on`; and `--engine tfjs`;
 *   3. the binary peak beside the ceiling: the sweep's best mscr binary cell and the best ONNX
 *      Runtime ceiling measured back to back BENCH_PAIRS times (see pairedBinaryPeak);
 *   4. the ResNet-50: ONNX Runtime and TensorFlow ceilings at batch 1 and 8 (a row is ~4
 *      GFLOP), then mscr (ONNX, 1 worker x `cores` threads), KServe (Keras ResNet50: the same
 *      architecture, its own random weights) and Express + onnxruntime-node at concurrency 1
 *      and 4.
 *
 * Options (environment): BENCH_CONCURRENCY (default 1,8,32,64,128: a peak is the best of
 * the sweep, as perf_analyzer finds it; a batching server needs a few batches of callers),
 * BENCH_DURATION (s, default 8), BENCH_WARMUP (s, default 2), BENCH_ROUNDS (default 1; best round per cell, every round
 * in the JSON), BENCH_CEILING_SECONDS (default 5), BENCH_PAIRS (default 3; 0 = skip 3.),
 * BENCH_RESNET (0 = skip 4.),
 * BENCH_KSERVE (0 = skip KServe), BENCH_OUT (default bench/results/compare.json; .md beside),
 * BENCH_ONLY=binary (only the ONNX Runtime ceiling and the mscr ONNX configurations with
 * binary tensors: issue 14's ceiling ratio, in a few minutes; no KServe, no ResNet),
 * BENCH_BASELINE=DIR (another checkout of mscr, e.g. `git archive <commit> | tar -x -C DIR`
 * with node_modules linked: its `mscr serve` runs beside this one's, same configurations
 * with binary tensors, named "baseline ...": before/after a change in ONE run),
 * BENCH_BUILD (default 1: mscr, and the baseline, run compiled by tsc as the container image
 * runs them, bench/compare/built.ts; 0: from source through tsx).
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../connectors/store/index.ts';
import {
  onnxCeiling,
  onnxLayouts,
  tensorflowCeiling,
  tfjsCeiling,
  type CeilingRow,
  type OnnxLayout,
} from './compare/ceilings.ts';
import {
  binaryPayload,
  cifarImage,
  CNN,
  importResnet,
  jsonPayload,
  publishCnn,
  RESNET,
  resnetInput,
} from './compare/models.ts';
import { buildCheckout } from './compare/built.ts';
import { ensureBenchPython } from './compare/python-env.ts';
import {
  best,
  bestOfRounds,
  bestOnnxCeiling,
  renderReport,
  summarise,
  type Measured,
  type PairedPeak,
} from './compare/report.ts';
import {
  machineTicks,
  root,
  round,
  runLoad,
  startChild,
  startMscrServe,
  stopChild,
  stopChildrenOnExit,
  ticksToSeconds,
  treeTicks,
  waitReady,
  type Payload,
  type Started,
  waitForQuiet,
} from './harness.ts';
import { initBackend } from '../runtime/backend/index.ts';

const env = process.env;
const list = (text: string | undefined, fallback: number[]) =>
  text ? text.split(',').map((v) => Number(v.trim())) : fallback;
const cores = Math.max(1, os.availableParallelism());
const CONCURRENCY = list(env.BENCH_CONCURRENCY, [1, 8, 32, 64, 128]);
const DURATION = Number(env.BENCH_DURATION ?? 8);
const WARMUP = Number(env.BENCH_WARMUP ?? 2);
const ROUNDS = Math.max(1, Number(env.BENCH_ROUNDS ?? 1));
const CEILING_SECONDS = Number(env.BENCH_CEILING_SECONDS ?? 5);
const PAIRS = Math.max(0, Number(env.BENCH_PAIRS ?? 3));
const ONLY_BINARY = env.BENCH_ONLY === 'binary';
if (env.BENCH_ONLY !== undefined && !ONLY_BINARY) {
  throw new Error(`BENCH_ONLY must be binary or unset, got ${JSON.stringify(env.BENCH_ONLY)}`);
}
const BASELINE = env.BENCH_BASELINE ? path.resolve(env.BENCH_BASELINE) : undefined;
const RESNET_ON = env.BENCH_RESNET !== '0' && !ONLY_BINARY;
const KSERVE_ON = env.BENCH_KSERVE !== '0' && !ONLY_BINARY;
// ResNet-50 is ~4 GFLOP a row: batch 32 would take seconds per run on 2 cores.
const RESNET_BATCHES = [1, 8];
const OUT = path.resolve(env.BENCH_OUT ?? path.join(root, 'bench/results/compare.json'));
const log = (line: string) => process.stderr.write(`${line}\n`);

const tmp = await mkdtemp(path.join(os.tmpdir(), 'mscr-compare-bench-'));
stopChildrenOnExit(() => rmSync(tmp, { recursive: true, force: true }));
const storeDir = path.join(tmp, 'models');
// mscr runs compiled, as its container image does (bench/compare/built.ts); BENCH_BUILD=0
// runs it from source through tsx, as `npm start` in a checkout does.
const BUILT = env.BENCH_BUILD !== '0';
if (BUILT) log('compiling mscr as the image does (npm run build, into the bench folder) ...');
const mscrCheckout = BUILT ? buildCheckout(root, path.join(tmp, 'built')) : root;
const baselineCheckout =
  BASELINE !== undefined && BUILT
    ? buildCheckout(BASELINE, path.join(tmp, 'built-baseline'))
    : BASELINE;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

interface Target {
  name: string;
  kind: 'mscr' | 'baseline' | 'kserve' | 'express-ort';
  model: string;
  server: Started;
  payloads: Payload[];
}

async function startMscr(
  name: string,
  args: string[],
  payloads: Payload[],
  model: string,
  baseline = false,
) {
  const checkout = (baseline ? baselineCheckout : mscrCheckout) ?? root;
  const server = await startMscrServe(name, checkout, storeDir, args);
  const kind = baseline ? ('baseline' as const) : ('mscr' as const);
  return { name, kind, model, server, payloads };
}

async function startKserve(
  python: string,
  model: string,
  modelArgs: string[],
  payloads: Payload[],
) {
  const port = await freePort();
  const grpcPort = await freePort();
  const server = await startChild(
    `kserve ${model}`,
    python,
    [
      'bench/kserve_server.py',
      'serve',
      '--name',
      model,
      ...modelArgs,
      '--http_port',
      String(port),
      '--grpc_port',
      String(grpcPort),
      '--workers',
      String(cores),
      // A log line per request would cost it throughput; off, to be fair to it.
      '--enable_latency_logging',
      'false',
    ],
    /Uvicorn running on/,
    { fixedUrl: `http://127.0.0.1:${port}` },
  );
  return {
    name: `KServe ${model === RESNET ? 'Keras' : 'TensorFlow'}, ${cores} workers`,
    kind: 'kserve' as const,
    model,
    server,
    payloads,
  };
}

async function startExpressOrt(model: string, payloads: Payload[]) {
  const server = await startChild(
    `express+ort ${model}`,
    process.execPath,
    ['--import', 'tsx', 'bench/reference-ort-server.ts', '--store', storeDir, '--model', model],
    /^listening (http:\/\/\S+)/,
  );
  return {
    name: 'Express + onnxruntime-node',
    kind: 'express-ort' as const,
    model,
    server,
    payloads,
  };
}

/** One request per payload; every server must give the same answer (within 1e-4). */
async function check(target: Target, expected: number[] | undefined): Promise<number[]> {
  await waitReady(target.server.url, `/v2/models/${target.model}/ready`).catch((error: Error) => {
    throw new Error(`${target.name}: ${error.message}\n${target.server.tail()}`);
  });
  let answer: number[] = [];
  const deadline = Date.now() + 180_000;
  for (const payload of target.payloads) {
    // KServe's workers build their models after they start: retry until each answers.
    for (let i = 0; i < 3 * cores; i++) {
      const res = await fetch(`${target.server.url}/v2/models/${target.model}/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...payload.headers },
        body: payload.body,
      });
      const text = await res.text();
      // A process of `--http-processes` may still be loading its model: wait for it.
      if (res.status === 503 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        i--;
        continue;
      }
      if (res.status !== 200) {
        throw new Error(
          `${target.name} answered ${res.status} to ${payload.name}: ${text.slice(0, 300)}`,
        );
      }
      const out = (JSON.parse(text) as { outputs: { data: number[] }[] }).outputs[0]?.data ?? [];
      answer = out;
      const ref = expected ?? out;
      const diff = Math.max(...ref.map((v, j) => Math.abs(v - (out[j] ?? NaN))));
      if (!(diff < 1e-4) || out.length !== ref.length) {
        throw new Error(`${target.name} (${payload.name}) disagrees: max abs difference ${diff}`);
      }
    }
  }
  return answer;
}

const measured: Measured[] = [];

/** One cell: warm-up, then BENCH_DURATION s of load, with the CPU each side used. */
async function measure(
  target: Target,
  payload: Payload,
  connections: number,
  roundNo: number,
): Promise<Measured> {
  const url = `${target.server.url}/v2/models/${target.model}/infer`;
  if (WARMUP > 0) await runLoad(url, payload, connections, WARMUP);
  const pid = target.server.child.pid;
  const t0 = performance.now();
  const [b, m0, self0] = [await treeTicks(pid), await machineTicks(), process.cpuUsage()];
  const result = await runLoad(url, payload, connections, DURATION);
  const [a, m1, self1] = [await treeTicks(pid), await machineTicks(), process.cpuUsage(self0)];
  const seconds = (performance.now() - t0) / 1000;
  const machine = ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * cores;
  const loadGenerator = (self1.user + self1.system) / 1e6 / seconds;
  const serverMain = ticksToSeconds(a.main - b.main) / seconds;
  const serverOther = ticksToSeconds(a.other - b.other) / seconds;
  const run: Measured = {
    loadAverage1: round(os.loadavg()[0] ?? NaN, 2),
    server: target.name,
    kind: target.kind,
    model: target.model,
    payload: payload.name,
    payloadBytes: Buffer.byteLength(payload.body),
    round: roundNo,
    ...result,
    cpu: {
      loadGenerator: round(loadGenerator, 2),
      serverMainThread: round(serverMain, 2),
      serverOtherThreads: round(serverOther, 2),
      others: round(Math.max(0, machine - loadGenerator - serverMain - serverOther), 2),
    },
  };
  log(
    `  ${`${target.name} [${payload.name}]`.padEnd(72)} c=${String(connections).padStart(3)} ${run.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${run.latencyMs.p50} p95 ${run.latencyMs.p95} p99 ${run.latencyMs.p99} ms  cores: main ${run.cpu.serverMainThread} other ${run.cpu.serverOtherThreads} gen ${run.cpu.loadGenerator} others ${run.cpu.others}${run.errors + run.non2xx > 0 ? `  !!! ${run.errors} errors ${run.non2xx} non-2xx ${run.errorSamples.join('; ')}` : ''}`,
  );
  return run;
}

async function matrix(targets: Target[], levels: number[]): Promise<void> {
  for (let r = 1; r <= ROUNDS; r++) {
    for (const c of levels) {
      log(`round ${r}/${ROUNDS}, concurrency ${c}:`);
      const order = r % 2 === 1 ? targets : [...targets].reverse();
      for (const t of order) for (const p of t.payloads) measured.push(await measure(t, p, c, r));
    }
  }
}

/**
 * The binary peak beside the ceiling: the sweep's best mscr binary cell (server and
 * concurrency) and the best ONNX Runtime ceiling (layout and batch), measured back to back
 * BENCH_PAIRS times, alternating which goes first. A ceiling taken minutes away from the cell
 * it is divided into moved by a quarter within one run (9,169-12,274 rows/s); a pair shares
 * the machine's state, and the median of the pairs' ratios is what a noisy minute moves least.
 */
async function pairedBinaryPeak(
  started: readonly Target[],
  binary: Payload,
  measureCeiling: (batches: number[], layouts: OnnxLayout[]) => Promise<CeilingRow[]>,
): Promise<PairedPeak | undefined> {
  const peak = best(
    bestOfRounds(measured).filter(
      (r) => r.kind === 'mscr' && r.model === CNN && r.payload === binary.name,
    ),
  );
  const ceiling = bestOnnxCeiling(ceilings, CNN);
  const layout = ceiling?.onnxLayout;
  const target = started.find((t) => t.name === peak?.server);
  if (PAIRS < 1 || !peak || !ceiling || !layout || !target) return undefined;
  const ceilingOnce = async () =>
    (await measureCeiling([ceiling.batch], [layout]))[0] as CeilingRow;
  log(
    `binary peak beside the ceiling, ${PAIRS} pairs: ${target.name} at c=${peak.connections}; ` +
      `ONNX Runtime ${ceiling.layout} at batch ${ceiling.batch}:`,
  );
  const pairs: PairedPeak['pairs'] = [];
  for (let i = 1; i <= PAIRS; i++) {
    let run: Measured;
    let row: CeilingRow;
    if (i % 2 === 1) {
      row = await ceilingOnce();
      run = await measure(target, binary, peak.connections, i);
    } else {
      run = await measure(target, binary, peak.connections, i);
      row = await ceilingOnce();
    }
    pairs.push({
      ceilingRowsPerSecond: row.rowsPerSecond,
      run,
      ratio: round(run.requestsPerSecond / row.rowsPerSecond, 2),
    });
  }
  return {
    server: target.name,
    concurrency: peak.connections,
    ceilingLayout: ceiling.layout,
    ceilingBatch: ceiling.batch,
    pairs,
  };
}

const startedAt = new Date();
const loadAverageStart = os.loadavg().map((l) => round(l, 2));
const ceilings: CeilingRow[] = [];
let paired: PairedPeak | undefined;
const targets: Target[] = [];
let python = '';
let installSeconds = 0;
let imageSource = '';
try {
  if (KSERVE_ON) ({ python, installSeconds } = ensureBenchPython(log));
  await initBackend('wasm');
  const cnnTfjs = await publishCnn(storeDir, path.join(tmp, 'cnn-tfjs'));
  const { manifest, files } = await openStore(storeDir).readVersion(CNN, 1);
  const image = await cifarImage();
  imageSource = image.source;
  const cnnShape = [1, 32, 32, 3];
  const json = jsonPayload(image.input, cnnShape, manifest.inputs[0]?.name ?? 'image');
  const binary = binaryPayload(image.input, cnnShape, manifest.inputs[0]?.name ?? 'image');
  log(`CNN published; payload ${Buffer.byteLength(json.body)} bytes of V2 JSON (${image.source})`);

  log('in-process ceilings, CIFAR-10 CNN:');
  const onnxBytes = files.get('model.onnx');
  if (onnxBytes === undefined) throw new Error('the CNN version has no model.onnx');
  const cnnOnnxCeiling = (batches = [1, 32], layouts = onnxLayouts(cores)): Promise<CeilingRow[]> =>
    onnxCeiling(CNN, onnxBytes, image.input, [32, 32, 3], batches, CEILING_SECONDS, layouts);
  ceilings.push(
    ...(await cnnOnnxCeiling()),
    ...(ONLY_BINARY
      ? []
      : await tfjsCeiling(CNN, files, [32, 32, 3], [1, 32], CEILING_SECONDS, cores)),
  );
  if (KSERVE_ON) {
    ceilings.push(...tensorflowCeiling(python, CNN, ['--tfjs', cnnTfjs], [1, 32], CEILING_SECONDS));
  }

  log('starting the servers ...');
  const both = ONLY_BINARY ? [binary] : [json, binary];
  const onnxServer = (name: string, args: string[]) =>
    startMscr(
      name,
      ['--engine', 'onnx', ...args, '--max-batch-size', '32', '--max-queue-delay', '0'],
      both,
      CNN,
    );
  const started = await Promise.all([
    ...(ONLY_BINARY ? [] : [startExpressOrt(CNN, [json])]),
    onnxServer(`mscr onnx, 1 worker x ${cores} threads`, [
      '--workers',
      '1',
      '--onnx-threads',
      String(cores),
    ]),
    onnxServer(`mscr onnx, ${cores} workers x 1 thread`, [
      '--workers',
      String(cores),
      '--onnx-threads',
      '1',
    ]),
    onnxServer(`mscr onnx, 1 session x ${cores} threads on the main thread`, [
      '--workers',
      '1',
      '--onnx-threads',
      String(cores),
      '--onnx-placement',
      'main',
    ]),
    // The same with ONNX Runtime's threads spinning when idle (its own default): a lone
    // request is answered sooner; under load the spinning takes cores from HTTP work.
    onnxServer(`mscr onnx, 1 session x ${cores} threads on the main thread, spinning`, [
      '--workers',
      '1',
      '--onnx-threads',
      String(cores),
      '--onnx-placement',
      'main',
      '--onnx-spinning',
      'on',
    ]),
    onnxServer(`mscr onnx, ${cores} HTTP processes x 1 worker x 1 thread`, [
      '--http-processes',
      String(cores),
      '--workers',
      '1',
      '--onnx-threads',
      '1',
    ]),
    onnxServer(`mscr onnx, ${cores} HTTP processes x 1 thread on the main thread`, [
      '--http-processes',
      String(cores),
      '--workers',
      '1',
      '--onnx-threads',
      '1',
      '--onnx-placement',
      'main',
    ]),
    ...(ONLY_BINARY
      ? []
      : [
          startMscr(
            `mscr tfjs, ${cores} workers`,
            [
              '--engine',
              'tfjs',
              '--workers',
              String(cores),
              '--max-batch-size',
              '32',
              '--max-queue-delay',
              '2',
            ],
            [json],
            CNN,
          ),
        ]),
    ...(KSERVE_ON ? [startKserve(python, CNN, ['--tfjs', cnnTfjs], [json])] : []),
    ...(BASELINE === undefined
      ? []
      : [
          [`1 worker x ${cores} threads`, '--workers', '1', '--onnx-threads', String(cores)],
          [`${cores} workers x 1 thread`, '--workers', String(cores), '--onnx-threads', '1'],
          [
            `${cores} HTTP processes x 1 worker x 1 thread`,
            '--http-processes',
            String(cores),
            '--workers',
            '1',
            '--onnx-threads',
            '1',
          ],
        ].map(([label = '', ...args]) =>
          startMscr(
            `baseline onnx, ${label}`,
            ['--engine', 'onnx', ...args, '--max-batch-size', '32', '--max-queue-delay', '0'],
            [binary],
            CNN,
            true,
          ),
        )),
  ]);
  targets.push(...started);
  log(`started ${started.map((t) => t.name).join('; ')}; checking their answers ...`);
  let expected: number[] | undefined;
  for (const t of started) expected = await check(t, expected);
  log(`machine quiet after ${await waitForQuiet()} ms; measuring ...`);
  await matrix(started, CONCURRENCY);
  paired = await pairedBinaryPeak(started, binary, cnnOnnxCeiling);
  await Promise.all(started.map((t) => stopChild(t.server.child)));
  // Again with the servers stopped: the machine's load drifts, the ceiling is the better of the two.
  log('ONNX Runtime ceiling again, servers stopped:');
  ceilings.push(
    ...(await cnnOnnxCeiling()).map((c) => ({
      ...c,
      layout: `${c.layout}, again after the servers`,
    })),
  );

  if (RESNET_ON) {
    log('ResNet-50:');
    await importResnet(storeDir, tmp);
    const resnet = await openStore(storeDir).readVersion(RESNET, 1);
    const rBytes = resnet.files.get(resnet.manifest.artifacts?.onnx?.file ?? 'model.onnx');
    const x = resnetInput();
    const name = resnet.manifest.inputs[0]?.name ?? 'input';
    if (rBytes !== undefined) {
      ceilings.push(
        ...(await onnxCeiling(
          RESNET,
          rBytes,
          x,
          [3, 224, 224],
          RESNET_BATCHES,
          CEILING_SECONDS,
          onnxLayouts(cores),
        )),
      );
    }
    if (KSERVE_ON)
      ceilings.push(
        ...tensorflowCeiling(python, RESNET, ['--resnet50'], RESNET_BATCHES, CEILING_SECONDS),
      );
    const rJson = jsonPayload(x, [1, 3, 224, 224], name);
    const rBinary = binaryPayload(x, [1, 3, 224, 224], name);
    const rTargets = await Promise.all([
      startMscr(
        `mscr onnx, 1 worker x ${cores} threads`,
        [
          '--engine',
          'onnx',
          '--workers',
          '1',
          '--onnx-threads',
          String(cores),
          '--max-batch-size',
          '8',
          '--max-queue-delay',
          '0',
          '--model',
          RESNET,
        ],
        [rJson, rBinary],
        RESNET,
      ),
      startExpressOrt(RESNET, [rJson]),
      ...(KSERVE_ON ? [startKserve(python, RESNET, ['--resnet50'], [rJson])] : []),
    ]);
    targets.push(...rTargets);
    // Different random weights in Keras: only check that each answers a 1000-way row.
    for (const t of rTargets) await check(t, undefined);
    log(`machine quiet after ${await waitForQuiet()} ms; measuring ...`);
    await matrix(rTargets, [1, 4]);
    await Promise.all(rTargets.map((t) => stopChild(t.server.child)));
  }
} finally {
  await Promise.all(targets.map((t) => stopChild(t.server.child)));
  await rm(tmp, { recursive: true, force: true });
}

const summary = summarise(measured, ceilings, cores, paired);
const result = {
  benchmark: 'compare',
  date: startedAt.toISOString(),
  durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
  machine: {
    cores,
    cpuModel: os.cpus()[0]?.model,
    node: process.version,
    loadAverageStart,
    loadAverageEnd: os.loadavg().map((l) => round(l, 2)),
  },
  options: {
    CONCURRENCY,
    DURATION,
    WARMUP,
    ROUNDS,
    CEILING_SECONDS,
    PAIRS,
    RESNET_ON,
    KSERVE_ON,
    ONLY: ONLY_BINARY ? 'binary' : null,
    BASELINE: BASELINE ?? null,
    BUILT,
  },
  image: imageSource,
  kserve: KSERVE_ON
    ? { python, packages: 'kserve==0.21.0 tensorflow-cpu==2.21.0', installSeconds }
    : null,
  summary,
  ceilings,
  runs: measured,
};
await mkdir(path.dirname(OUT), { recursive: true });
await writeFile(OUT, `${JSON.stringify(result, null, 2)}\n`);
const markdown = renderReport(result);
await writeFile(OUT.replace(/\.json$/, '') + '.md', markdown);
console.log(`\n${markdown}\nwritten to ${OUT}`);
