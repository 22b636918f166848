/**
 * The end of every run: thresholds every script shares, and `handleSummary` writing
 * `<RESULTS_DIR>/<script>-summary.json` (the figures below plus k6's whole summary) and a
 * short text on stdout: rate, p50/p95/p99, error rate, per protocol, per stage (the knee of
 * `stress` and `spike`) and, for `reload`, the version switch. The HTML report is k6's own
 * web dashboard export (`K6_WEB_DASHBOARD_EXPORT`, set by the runner). Runs in k6, not Node.
 */
import { common, envNumber, type Protocol } from './config.ts';

/** A metric as k6 hands it to handleSummary. */
interface SummaryMetric {
  type: string;
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}
export interface SummaryData {
  metrics: Record<string, SummaryMetric | undefined>;
  state?: { testRunDurationMs?: number };
  setup_data?: unknown;
}

/** Thresholds that never fail: declared only so k6 keeps these sub-metrics for the summary. */
const TRACKING = new Set(['max>=0', 'count>=0', 'rate>=0']);

/** Keeps the duration, count and error rate of the requests with tag `key:value`. */
export function track(key: string, values: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const value of values) {
    out[`http_req_duration{${key}:${value}}`] = ['max>=0'];
    out[`http_reqs{${key}:${value}}`] = ['count>=0'];
    out[`http_req_failed{${key}:${value}}`] = ['rate>=0'];
  }
  return out;
}

/** Every script: no failed request, every check true; per-protocol figures kept. */
export function correctnessThresholds(protocols: readonly Protocol[]): Record<string, string[]> {
  return {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    'http_reqs{traffic:load}': ['count>0'],
    'http_req_duration{traffic:load}': ['max>=0'],
    'http_req_failed{traffic:load}': ['rate>=0'],
    ...track('protocol', protocols),
  };
}

/** Steady loads: p95 and p99 under `P95_MS` and `P99_MS`, each protocol's p95 too. */
export function latencyThresholds(protocols: readonly Protocol[]): Record<string, string[]> {
  const p95 = envNumber('P95_MS', 1000);
  const p99 = envNumber('P99_MS', 2000);
  const out: Record<string, string[]> = {
    'http_req_duration{traffic:load}': ['max>=0', `p(95)<${p95}`, `p(99)<${p99}`],
  };
  for (const protocol of protocols) {
    out[`http_req_duration{protocol:${protocol}}`] = ['max>=0', `p(95)<${p95}`];
  }
  return out;
}

/** Both of the above. */
export function baseThresholds(protocols: readonly Protocol[]): Record<string, string[]> {
  return { ...correctnessThresholds(protocols), ...latencyThresholds(protocols) };
}

export const summaryTrendStats = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'];

export interface Latency {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}
export interface Slice {
  requests: number;
  /** Requests per second over `seconds`. */
  rate: number;
  errorRate: number;
  latencyMs: Latency;
}
export interface StageResult extends Slice {
  stage: string;
  /** The arrival rate asked for (the level of a step), per second. */
  targetRate: number;
  /** Requests the executor should have started in this stage. */
  expected: number;
  seconds: number;
}
export interface Stage {
  name: string;
  targetRate: number;
  /** How many iterations the executor starts in the stage, by its ramp and hold. */
  expected: number;
  seconds: number;
}

function metric(data: SummaryData, name: string): SummaryMetric | undefined {
  return data.metrics[name];
}

function value(data: SummaryData, name: string, stat: string): number {
  return metric(data, name)?.values[stat] ?? 0;
}

function latency(data: SummaryData, name: string): Latency {
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    p50: r(value(data, name, 'med')),
    p95: r(value(data, name, 'p(95)')),
    p99: r(value(data, name, 'p(99)')),
    max: r(value(data, name, 'max')),
  };
}

function slice(data: SummaryData, filter: string, seconds: number): Slice {
  const requests = value(data, `http_reqs${filter}`, 'count');
  return {
    requests,
    rate: Math.round((requests / Math.max(seconds, 0.001)) * 100) / 100,
    errorRate: value(data, `http_req_failed${filter}`, 'rate'),
    latencyMs: latency(data, `http_req_duration${filter}`),
  };
}

export interface Extra {
  target?: string;
  stages?: Stage[];
  /** When the first stage fails these, it is the knee. */
  kneeP95Ms?: number;
  version?: { before: number; after: number };
  notes?: string[];
}

/** The figures the README table and the runner show. */
export function results(script: string, data: SummaryData, extra: Extra = {}) {
  const seconds = (data.state?.testRunDurationMs ?? 0) / 1000;
  const thresholds: { metric: string; threshold: string; ok: boolean }[] = [];
  for (const [name, m] of Object.entries(data.metrics)) {
    for (const [threshold, result] of Object.entries(m?.thresholds ?? {})) {
      if (!TRACKING.has(threshold)) thresholds.push({ metric: name, threshold, ok: result.ok });
    }
  }
  const byProtocol: Record<string, Slice> = {};
  for (const protocol of ['v1', 'v2', 'mscr']) {
    if (metric(data, `http_reqs{protocol:${protocol}}`) !== undefined) {
      byProtocol[protocol] = slice(data, `{protocol:${protocol}}`, seconds);
    }
  }
  const stages: StageResult[] = (extra.stages ?? []).map((stage) => ({
    stage: stage.name,
    targetRate: stage.targetRate,
    expected: Math.round(stage.expected),
    seconds: stage.seconds,
    ...slice(data, `{stage:${stage.name}}`, stage.seconds),
  }));
  // The knee: the first stage that did not get its requests through in time, whole.
  const kneeP95 = extra.kneeP95Ms ?? Infinity;
  const knee = stages.find(
    (s) => s.errorRate > 0 || s.requests < 0.95 * s.expected || s.latencyMs.p95 > kneeP95,
  );
  const held = knee === undefined ? stages : stages.slice(0, stages.indexOf(knee));
  const sustained = held.length === 0 ? null : Math.max(...held.map((s) => s.targetRate));
  const version = extra.version && {
    ...extra.version,
    switched: extra.version.after > extra.version.before,
    responsesFromNewVersion: value(data, 'new_version_responses', 'count'),
    firstNewVersionAtSeconds:
      metric(data, 'new_version_seen_at') === undefined
        ? undefined
        : Math.round(value(data, 'new_version_seen_at', 'min') / 100) / 10,
  };
  return {
    script,
    baseUrl: common.baseUrl,
    model: extra.target,
    finishedAt: new Date().toISOString(),
    seconds: Math.round(seconds * 10) / 10,
    ...slice(data, '{traffic:load}', seconds),
    failedRequestsAll: value(data, 'http_req_failed', 'passes'),
    droppedIterations: value(data, 'dropped_iterations', 'count'),
    checks: { passes: value(data, 'checks', 'passes'), fails: value(data, 'checks', 'fails') },
    byProtocol,
    ...(stages.length > 0
      ? {
          stages,
          knee: knee?.stage ?? null,
          /** The highest rate of the stages before the knee. */
          sustainedRate: sustained,
        }
      : {}),
    ...(version ? { version } : {}),
    thresholds,
    passed: thresholds.every((t) => t.ok),
    notes: extra.notes ?? [],
  };
}

type Results = ReturnType<typeof results>;

function pct(rate: number): string {
  return `${(rate * 100).toFixed(2)} %`;
}

function line(name: string, s: Slice): string {
  const l = s.latencyMs;
  return `${name.padEnd(10)} ${String(s.requests).padStart(7)} req ${s.rate.toFixed(1).padStart(7)}/s  p50 ${l.p50} ms  p95 ${l.p95} ms  p99 ${l.p99} ms  max ${l.max} ms  errors ${pct(s.errorRate)}`;
}

/** The stdout text. */
export function text(r: Results): string {
  const out = [
    '',
    `mscr load test "${r.script}" against ${r.baseUrl}${r.model ? ` (model ${r.model})` : ''}: ${r.seconds} s`,
    `  ${line('all', r)}`,
  ];
  for (const [protocol, s] of Object.entries(r.byProtocol)) out.push(`  ${line(protocol, s)}`);
  out.push(
    `  dropped iterations ${r.droppedIterations}, failed requests ${r.failedRequestsAll}, checks ${r.checks.passes} passed / ${r.checks.fails} failed`,
  );
  if (r.stages) {
    out.push('  stages (target rate -> achieved):');
    for (const s of r.stages) {
      out.push(
        `    ${line(`${s.stage}`, s)}  target ${s.targetRate}/s, ${s.requests}/${s.expected} expected${s.stage === r.knee ? '  <- knee' : ''}`,
      );
    }
    out.push(
      r.knee === null
        ? `  no knee: every stage held, up to ${r.sustainedRate}/s`
        : `  knee at stage ${r.knee}; held up to ${r.sustainedRate ?? 'none'}/s before it`,
    );
  }
  if (r.version) {
    const v = r.version;
    out.push(
      `  version ${v.before} -> ${v.after}: ${v.switched ? 'switched' : 'DID NOT SWITCH'}, ${v.responsesFromNewVersion} responses from the new version${v.firstNewVersionAtSeconds === undefined ? '' : `, the first at ${v.firstNewVersionAtSeconds} s`}`,
    );
  }
  for (const note of r.notes) out.push(`  ${note}`);
  out.push('  thresholds:');
  for (const t of r.thresholds) {
    out.push(`    ${t.ok ? 'ok    ' : 'FAILED'} ${t.metric}: ${t.threshold}`);
  }
  out.push(`  ${r.passed ? 'PASSED' : 'FAILED'}`, '');
  return out.join('\n');
}

/** What each script's `handleSummary` returns. */
export function summaryOutputs(
  script: string,
  data: SummaryData,
  extra: Extra = {},
): Record<string, string> {
  const r = results(script, data, extra);
  return {
    stdout: text(r),
    [`${common.resultsDir}/${script}-summary.json`]: JSON.stringify({ ...r, k6: data }, null, 2),
  };
}
