/** The comparison bench's ratios (issue 14's targets) and its Markdown report. */
import { fmt, round, type LoadResult } from '../harness.ts';
import type { CeilingRow } from './ceilings.ts';

export interface Measured extends LoadResult {
  server: string;
  kind: 'mscr' | 'baseline' | 'kserve' | 'express-ort';
  model: string;
  payload: string;
  payloadBytes: number;
  round: number;
  /** The machine's 1-minute load average when the cell ended. */
  loadAverage1?: number;
  cpu: {
    loadGenerator: number;
    serverMainThread: number;
    serverOtherThreads: number;
    others: number;
  };
}

/** The binary peak cell and the ONNX Runtime ceiling, measured back to back several times. */
export interface PairedPeak {
  server: string;
  concurrency: number;
  ceilingLayout: string;
  ceilingBatch: number;
  pairs: { ceilingRowsPerSecond: number; run: Measured; ratio: number }[];
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[mid]
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A model's best ONNX Runtime ceiling (every layout and batch measured). */
export function bestOnnxCeiling(
  ceilings: readonly CeilingRow[],
  model: string,
): CeilingRow | undefined {
  return ceilings
    .filter((c) => c.model === model && c.engine.startsWith('onnxruntime'))
    .reduce<CeilingRow | undefined>(
      (b, c) => (b === undefined || c.rowsPerSecond > b.rowsPerSecond ? c : b),
      undefined,
    );
}

/** CPU microseconds per answered request: the server's (all its threads) and the load generator's. */
export function cpuPerRequest(r: Measured): { server: number; loadGenerator: number } | undefined {
  if (!(r.requestsPerSecond > 0)) return undefined;
  return {
    server: round(
      ((r.cpu.serverMainThread + r.cpu.serverOtherThreads) / r.requestsPerSecond) * 1e6,
      0,
    ),
    loadGenerator: round((r.cpu.loadGenerator / r.requestsPerSecond) * 1e6, 0),
  };
}

/** Requests per second per core the server used (all its processes and threads). */
export function perCore(r: Measured | undefined): number | undefined {
  if (r === undefined) return undefined;
  const used = r.cpu.serverMainThread + r.cpu.serverOtherThreads;
  return used > 0 ? round(r.requestsPerSecond / used, 0) : undefined;
}

/** The cell with the most req/s. */
export function best(list: readonly Measured[]): Measured | undefined {
  return list.reduce<Measured | undefined>(
    (b, r) => (b === undefined || r.requestsPerSecond > b.requestsPerSecond ? r : b),
    undefined,
  );
}

/** Per server, payload and concurrency, the round with the most req/s. */
export function bestOfRounds(list: readonly Measured[]): Measured[] {
  const out = new Map<string, Measured>();
  for (const r of list) {
    const key = `${r.model}|${r.server}|${r.payload}|${r.connections}`;
    const seen = out.get(key);
    if (seen === undefined || r.requestsPerSecond > seen.requestsPerSecond) out.set(key, r);
  }
  return [...out.values()];
}

function ratio(a: number | undefined, b: number | undefined): number | null {
  return a === undefined || b === undefined || !(b > 0) ? null : round(a / b, 2);
}

const brief = (r: Measured | undefined) =>
  r === undefined
    ? null
    : {
        server: r.server,
        payload: r.payload,
        concurrency: r.connections,
        requestsPerSecond: r.requestsPerSecond,
        p50Ms: r.latencyMs.p50,
        p95Ms: r.latencyMs.p95,
        p99Ms: r.latencyMs.p99,
      };

/**
 * Before/after moving JSON parsing off the one main thread: the best single-process ONNX
 * configuration against `--http-processes`, per payload, at each one's peak, with the CPU
 * their main threads used (a main thread near 1.0 core is the limit).
 */
function mainThreadBeforeAfter(mscr: readonly Measured[]) {
  const onnx = mscr.filter((r) => r.server.startsWith('mscr onnx'));
  const multi = (r: Measured) => r.server.includes('HTTP processes');
  return ['V2 JSON', 'V2 binary'].map((payload) => {
    const before = best(onnx.filter((r) => r.payload === payload && !multi(r)));
    const after = best(onnx.filter((r) => r.payload === payload && multi(r)));
    const view = (r: Measured | undefined) =>
      r === undefined
        ? null
        : {
            ...brief(r),
            mainThreadCores: r.cpu.serverMainThread,
            otherCores: r.cpu.serverOtherThreads,
          };
    return {
      payload,
      oneProcess: view(before),
      httpProcesses: view(after),
      afterOverBefore: ratio(after?.requestsPerSecond, before?.requestsPerSecond),
    };
  });
}

/** mscr configurations whose ONNX Runtime sessions run on the service thread. */
export const onMain = (r: Measured) => r.server.includes('main thread');

/**
 * Where the sessions run, before (worker threads) and after (`--onnx-placement main`), per
 * payload and process count, each at its peak: the hop to a worker and back, measured.
 */
function placementBeforeAfter(mscr: readonly Measured[]) {
  const onnx = mscr.filter((r) => r.server.startsWith('mscr onnx'));
  const multi = (r: Measured) => r.server.includes('HTTP processes');
  return ['V2 JSON', 'V2 binary'].flatMap((payload) =>
    [false, true].map((processes) => {
      const same = onnx.filter((r) => r.payload === payload && multi(r) === processes);
      const workers = best(same.filter((r) => !onMain(r)));
      const main = best(same.filter(onMain));
      return {
        payload,
        httpProcesses: processes,
        workers: brief(workers),
        main: brief(main),
        mainOverWorkers: ratio(main?.requestsPerSecond, workers?.requestsPerSecond),
      };
    }),
  );
}

export function summarise(
  measured: readonly Measured[],
  ceilings: readonly CeilingRow[],
  cores: number,
  paired?: PairedPeak,
) {
  const rows = bestOfRounds(measured).filter((r) => r.model === 'cifar10-cnn');
  const mscr = rows.filter((r) => r.kind === 'mscr');
  const json = (r: Measured) => r.payload === 'V2 JSON';
  const mscrJsonPeak = best(mscr.filter(json));
  const mscrBinaryPeak = best(mscr.filter((r) => !json(r)));
  const mscrPeak = best(mscr);
  const kservePeak = best(rows.filter((r) => r.kind === 'kserve'));
  const baselineBinaryPeak = best(rows.filter((r) => r.kind === 'baseline' && !json(r)));
  const cpuRows = ceilings.flatMap((c) =>
    c.model === 'cifar10-cnn' && c.cpuMicrosPerRow !== undefined ? [c.cpuMicrosPerRow] : [],
  );
  const ceilingCpu = cpuRows.length > 0 ? Math.min(...cpuRows) : undefined;
  const ortCeiling = bestOnnxCeiling(ceilings, 'cifar10-cnn');
  const at = (list: readonly Measured[], c: number | undefined) =>
    list.find((r) => r.connections === c);
  const kserveRuns = rows.filter((r) => r.kind === 'kserve');
  const single = (kind: Measured['kind'], payloadJson = true) =>
    rows
      .filter((r) => r.kind === kind && r.connections === 1 && json(r) === payloadJson)
      .reduce<Measured | undefined>(
        (b, r) => (b === undefined || r.latencyMs.p50 < b.latencyMs.p50 ? r : b),
        undefined,
      );
  const mscrSingle = single('mscr');
  const ortSingle = single('express-ort');
  const mscrPeakConfig = mscr.filter((r) => r.server === mscrJsonPeak?.server && json(r));
  const pairedRatios = paired?.pairs.map((p) => p.ratio) ?? [];
  const pairedMedian = median(pairedRatios);
  return {
    cores,
    mscrPeakJson: brief(mscrJsonPeak),
    mscrPeakBinary: brief(mscrBinaryPeak),
    baselinePeakBinary: brief(baselineBinaryPeak),
    kservePeak: brief(kservePeak),
    expressOrtPeak: brief(best(rows.filter((r) => r.kind === 'express-ort'))),
    onnxCeiling: ortCeiling ?? null,
    ratios: {
      'mscr JSON peak / KServe peak (target >= 3)': ratio(
        mscrJsonPeak?.requestsPerSecond,
        kservePeak?.requestsPerSecond,
      ),
      'mscr JSON peak / KServe peak, per core each used (robust to other load)': ratio(
        perCore(mscrJsonPeak),
        perCore(kservePeak),
      ),
      'mscr peak (any payload) / KServe peak': ratio(
        mscrPeak?.requestsPerSecond,
        kservePeak?.requestsPerSecond,
      ),
      'mscr binary peak / ONNX Runtime in-process ceiling (target >= 0.4)': ratio(
        mscrBinaryPeak?.requestsPerSecond,
        ortCeiling?.rowsPerSecond,
      ),
      'the same, median of the back-to-back pairs (binary peak cell, then the ceiling)':
        pairedMedian ?? null,
      // Robust to other load: what share of the ceiling the CPU a request costs allows, if the
      // server and its load generator had the cores to themselves.
      'ceiling CPU per row / (mscr server + load generator CPU per request) at the binary peak':
        ratio(
          ceilingCpu,
          mscrBinaryPeak === undefined
            ? undefined
            : (cpuPerRequest(mscrBinaryPeak)?.server ?? NaN) +
                (cpuPerRequest(mscrBinaryPeak)?.loadGenerator ?? NaN),
        ),
      'baseline binary peak / ONNX Runtime in-process ceiling (BENCH_BASELINE)': ratio(
        baselineBinaryPeak?.requestsPerSecond,
        ortCeiling?.rowsPerSecond,
      ),
      'mscr binary peak / baseline binary peak (BENCH_BASELINE)': ratio(
        mscrBinaryPeak?.requestsPerSecond,
        baselineBinaryPeak?.requestsPerSecond,
      ),
      'mscr JSON peak / ONNX Runtime in-process ceiling': ratio(
        mscrJsonPeak?.requestsPerSecond,
        ortCeiling?.rowsPerSecond,
      ),
      'mscr p99 at its JSON peak / KServe p99 at its peak (target <= 1)': ratio(
        mscrJsonPeak?.latencyMs.p99,
        kservePeak?.latencyMs.p99,
      ),
      'mscr p99 / KServe p99, both at the concurrency of mscr JSON peak (target <= 1)': ratio(
        mscrJsonPeak?.latencyMs.p99,
        at(kserveRuns, mscrJsonPeak?.connections)?.latencyMs.p99,
      ),
      'mscr p99 / KServe p99, both at the concurrency of KServe peak (target <= 1)': ratio(
        at(mscrPeakConfig, kservePeak?.connections)?.latencyMs.p99,
        kservePeak?.latencyMs.p99,
      ),
      'mscr single-request p50 / Express+ort single-request p50, JSON (target <= 1)': ratio(
        mscrSingle?.latencyMs.p50,
        ortSingle?.latencyMs.p50,
      ),
    },
    singleRequest: { mscr: brief(mscrSingle), expressOrt: brief(ortSingle) },
    pairedBinaryPeak:
      paired === undefined
        ? null
        : {
            server: paired.server,
            concurrency: paired.concurrency,
            ceiling: `${paired.ceilingLayout}, batch ${paired.ceilingBatch}`,
            pairs: paired.pairs.map((p) => ({
              ...brief(p.run),
              ceilingRowsPerSecond: p.ceilingRowsPerSecond,
              ratio: p.ratio,
              cpuMicrosPerRequest: cpuPerRequest(p.run) ?? null,
            })),
            medianRatio: pairedMedian === undefined ? null : round(pairedMedian, 2),
          },
    mainThread: mainThreadBeforeAfter(mscr),
    placement: placementBeforeAfter(mscr),
  };
}

interface Report {
  date: string;
  durationS: number;
  machine: {
    cores: number;
    cpuModel?: string;
    node: string;
    loadAverageStart: number[];
    loadAverageEnd: number[];
  };
  options: {
    CONCURRENCY: number[];
    DURATION: number;
    WARMUP: number;
    ROUNDS: number;
    BUILT?: boolean;
  };
  image: string;
  kserve: { packages: string } | null;
  summary: ReturnType<typeof summarise>;
  ceilings: CeilingRow[];
  runs: Measured[];
}

function pairedSection(p: ReturnType<typeof summarise>['pairedBinaryPeak']): string[] {
  if (p === null) return [];
  return [
    '',
    `The binary peak beside the ceiling (${p.server}, c=${p.concurrency}; ONNX Runtime ${p.ceiling}), measured back to back, alternating which goes first; median ratio **${fmt(p.medianRatio, 2)}**:`,
    '',
    '| pair | mscr req/s | p50 / p95 / p99 ms | ceiling rows/s | ratio | CPU µs per request: server / load gen |',
    '| ---: | ---: | --- | ---: | ---: | --- |',
    ...p.pairs.map(
      (x, i) =>
        `| ${i + 1} | ${fmt(x.requestsPerSecond, 0)} | ${fmt(x.p50Ms, 1)} / ${fmt(x.p95Ms, 1)} / ${fmt(x.p99Ms, 1)} | ${fmt(x.ceilingRowsPerSecond, 0)} | ${fmt(x.ratio, 2)} | ${fmt(x.cpuMicrosPerRequest?.server, 0)} / ${fmt(x.cpuMicrosPerRequest?.loadGenerator, 0)} |`,
    ),
  ];
}

export function renderReport(r: Report): string {
  const table = (model: string) => {
    const rows = bestOfRounds(r.runs).filter((x) => x.model === model);
    return [
      '| server | payload | conc. | req/s | p50 ms | p95 ms | p99 ms | failed | CPU cores: server main thread(s) / other threads / load gen / others | req/s per server core | CPU µs per request: server / load gen | load avg |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |',
      ...rows.map(
        (x) =>
          `| ${x.server} | ${x.payload} (${(x.payloadBytes / 1000).toFixed(1)} KB) | ${x.connections} | ${fmt(x.requestsPerSecond, 0)} | ${fmt(x.latencyMs.p50, 2)} | ${fmt(x.latencyMs.p95, 2)} | ${fmt(x.latencyMs.p99, 2)} | ${x.errors + x.non2xx} | ${fmt(x.cpu.serverMainThread, 2)} / ${fmt(x.cpu.serverOtherThreads, 2)} / ${fmt(x.cpu.loadGenerator, 2)} / ${fmt(x.cpu.others, 2)} | ${fmt(perCore(x), 0)} | ${fmt(cpuPerRequest(x)?.server, 0)} / ${fmt(cpuPerRequest(x)?.loadGenerator, 0)} | ${fmt(x.loadAverage1, 1)} |`,
      ),
    ].join('\n');
  };
  const ceilingTable = [
    '| model | engine | layout | batch | rows/s | CPU µs per row |',
    '| --- | --- | --- | ---: | ---: | ---: |',
    ...r.ceilings.map(
      (c) =>
        `| ${c.model} | ${c.engine} | ${c.layout} | ${c.batch} | ${fmt(c.rowsPerSecond, 0)} | ${fmt(c.cpuMicrosPerRow, 0)} |`,
    ),
  ].join('\n');
  const ratios = Object.entries(r.summary.ratios)
    .map(([k, v]) => `- ${k}: **${fmt(v, 2)}**`)
    .join('\n');
  const failed = r.runs.filter((x) => x.errors + x.non2xx > 0).length;
  return [
    `## mscr vs KServe vs Express + onnxruntime-node (\`npm run bench:compare\`, ${r.date.slice(0, 10)})`,
    '',
    `${r.machine.cores} cores (${r.machine.cpuModel}), Node ${r.machine.node}, shared with other work: load average ${r.machine.loadAverageStart.join(' ')} at start, ${r.machine.loadAverageEnd.join(' ')} at end; ${r.durationS} s. ` +
      `One image per request (${r.image}), autocannon over loopback in the bench process (it shares the cores), ${r.options.DURATION} s per cell after ${r.options.WARMUP} s warm-up, best of ${r.options.ROUNDS} round(s). ` +
      `mscr ran ${r.options.BUILT === false ? 'from source through tsx (BENCH_BUILD=0)' : 'compiled by tsc, as its container image runs it'}. ` +
      `Competitor: ${r.kserve ? `KServe Python server (${r.kserve.packages}), ${r.machine.cores} uvicorn workers, V2 REST JSON` : 'not run'}.`,
    '',
    'Ratios (CIFAR-10 CNN):',
    '',
    ratios,
    `- failed requests: ${failed === 0 ? 'none' : `${failed} cell(s) had failures (see the JSON)`}`,
    ...pairedSection(r.summary.pairedBinaryPeak),
    '',
    'The main thread, before (one HTTP process) and after (`--http-processes`), each at its peak:',
    '',
    '| payload | one process: config, conc., req/s, p99 ms, main-thread cores | --http-processes: config, conc., req/s, p99 ms, main-thread cores (all processes) | after / before |',
    '| --- | --- | --- | ---: |',
    ...r.summary.mainThread.map((m) => {
      const cell = (v: (typeof m)['oneProcess']) =>
        v === null
          ? '-'
          : `${v.server}, c=${v.concurrency}, ${fmt(v.requestsPerSecond, 0)}, ${fmt(v.p99Ms, 1)}, ${fmt(v.mainThreadCores, 2)}`;
      return `| ${m.payload} | ${cell(m.oneProcess)} | ${cell(m.httpProcesses)} | ${fmt(m.afterOverBefore, 2)} |`;
    }),
    '',
    'Where ONNX Runtime runs, before (worker threads) and after (`--onnx-placement main`), each at its peak:',
    '',
    '| payload | HTTP processes | workers: config, conc., req/s, p50 / p95 / p99 ms | main: config, conc., req/s, p50 / p95 / p99 ms | main / workers |',
    '| --- | --- | --- | --- | ---: |',
    ...r.summary.placement
      .filter((p) => p.workers !== null || p.main !== null)
      .map((p) => {
        const cell = (v: (typeof p)['workers']) =>
          v === null
            ? '-'
            : `${v.server}, c=${v.concurrency}, ${fmt(v.requestsPerSecond, 0)}, ${fmt(v.p50Ms, 1)} / ${fmt(v.p95Ms, 1)} / ${fmt(v.p99Ms, 1)}`;
        return `| ${p.payload} | ${p.httpProcesses ? 'several' : 'one'} | ${cell(p.workers)} | ${cell(p.main)} | ${fmt(p.mainOverWorkers, 2)} |`;
      }),
    '',
    'CIFAR-10 CNN:',
    '',
    table('cifar10-cnn'),
    '',
    'ResNet-50 (random weights; KServe runs Keras ResNet50 with its own random weights):',
    '',
    table('resnet50'),
    '',
    'In-process ceilings (no HTTP, no load generator):',
    '',
    ceilingTable,
    '',
  ].join('\n');
}
