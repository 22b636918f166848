/**
 * What the comparison bench (bench/compare-bench.ts) needs to run servers and load them:
 * child processes that print their URL when ready (stopped on exit and on a signal), a
 * closed-loop HTTP load generator (autocannon) with exact percentiles from every response,
 * and CPU accounting per process from /proc.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import autocannon from 'autocannon';

export const root = new URL('../', import.meta.url).pathname;

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? NaN;
}

export function fmt(value: number | null | undefined, digits = 1): string {
  return value == null || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

// --- child processes ----------------------------------------------------------------------

const children = new Set<ChildProcess>();

export interface Started {
  child: ChildProcess;
  url: string;
  /** The last lines the child wrote (stdout and stderr), for error messages. */
  tail(): string;
}

/**
 * Starts `command args` and resolves with the URL it prints (group 1 of `pattern`), or with
 * `fixedUrl` once a line matches `pattern` (for servers that do not print their address).
 */
export function startChild(
  name: string,
  command: string,
  args: string[],
  pattern: RegExp,
  options: { timeoutMs?: number; fixedUrl?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Started> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const child = spawn(command, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MSCR_LOG_LEVEL: 'warn', ...options.env },
    // Its own process group: stopping it also stops what it forked (KServe's workers).
    detached: true,
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
      const url = options.fixedUrl ?? match?.[1];
      if (!done && match && url !== undefined) {
        done = true;
        clearTimeout(timer);
        resolve({ child, url, tail });
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

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export async function stopChild(child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    signalGroup(child, 'SIGKILL');
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  signalGroup(child, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
  // The group's other members (forked workers) must not outlive it.
  signalGroup(child, 'SIGKILL');
  children.delete(child);
}

export function killAllNow(): void {
  for (const child of children) signalGroup(child, 'SIGKILL');
}

/**
 * `mscr serve` from `checkout` (a source checkout or a compiled one, bench/compare/built.ts)
 * on a loopback port, set up for measuring: warn-level logs, the store polled rarely, the
 * wasm backend for any TF.js version; `args` adds or overrides flags, `nodeArgs` go to Node
 * (e.g. `--cpu-prof`).
 */
export function startMscrServe(
  name: string,
  checkout: string,
  store: string,
  args: string[],
  nodeArgs: string[] = [],
): Promise<Started> {
  return startChild(
    name,
    process.execPath,
    [
      ...nodeArgs,
      path.join(checkout, 'bin/mscr.js'),
      'serve',
      '--store',
      store,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--grpc-port',
      '0',
      '--log-level',
      'warn',
      '--poll-interval',
      '600',
      '--backend',
      'wasm',
      ...args,
    ],
    /mscr serving .* at (http:\/\/\S+)/,
  );
}

/** Stops every child on exit and on SIGINT/SIGTERM; `cleanup` runs on a signal too. */
export function stopChildrenOnExit(cleanup: () => void): void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping every child process\n`);
    killAllNow();
    cleanup();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAllNow);
}

export async function waitReady(url: string, path: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}${path}`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url}${path} is not 200 after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// --- CPU accounting -------------------------------------------------------------------------

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Process ids of `pid` and its descendants (KServe forks its workers). */
async function processTree(pid: number): Promise<number[]> {
  const all = await readdir('/proc').catch(() => [] as string[]);
  const parents = new Map<number, number>();
  await Promise.all(
    all
      .filter((d) => /^\d+$/.test(d))
      .map(async (d) => {
        try {
          const stat = await readFile(`/proc/${d}/stat`, 'utf8');
          const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          parents.set(Number(d), Number(fields[1]));
        } catch {
          // ended
        }
      }),
  );
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

export interface TreeTicks {
  /**
   * utime + stime of the main thread of `pid` and of each descendant process (the event
   * loops: HTTP, JSON, batching; with several HTTP processes, all of them), in clock ticks.
   */
  main: number;
  /** Every other thread of `pid` and of its descendants (inference, GC, libuv). */
  other: number;
}

async function threadTicks(pid: number): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const tids = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  await Promise.all(
    tids.map(async (tid) => {
      try {
        const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(Number(tid), Number(fields[11]) + Number(fields[12]));
      } catch {
        // the thread ended
      }
    }),
  );
  return out;
}

export async function treeTicks(pid: number | undefined): Promise<TreeTicks> {
  if (pid === undefined) return { main: NaN, other: NaN };
  let main = 0;
  let other = 0;
  for (const p of await processTree(pid)) {
    for (const [tid, ticks] of await threadTicks(p)) {
      if (tid === p) main += ticks;
      else other += ticks;
    }
  }
  return { main, other };
}

/** Busy and total jiffies of the whole machine (/proc/stat). */
export async function machineTicks(): Promise<{ busy: number; total: number }> {
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

export const ticksToSeconds = (ticks: number) => ticks / CLK_TCK;

/**
 * Waits until the machine is nearly idle (busy under `busyShare` of all cores over a second),
 * at most `maxMs`; returns the ms waited. Servers started together keep loading for a while
 * (KServe's workers import TensorFlow), and the first cell measured must not share the cores
 * with that.
 */
export async function waitForQuiet(maxMs = 60_000, busyShare = 0.15): Promise<number> {
  const started = performance.now();
  for (;;) {
    const before = await machineTicks();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const after = await machineTicks();
    const share = (after.busy - before.busy) / Math.max(1, after.total - before.total);
    const waited = Math.round(performance.now() - started);
    if (!(share >= busyShare) || waited >= maxMs) return waited;
  }
}

// --- load -----------------------------------------------------------------------------------

export interface Payload {
  name: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

export interface LoadResult {
  connections: number;
  seconds: number;
  requestsPerSecond: number;
  ok: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  errorSamples: string[];
}

/** Closed loop: `connections` clients, each sending the next request when answered. */
export function runLoad(
  url: string,
  payload: Payload,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const errorSamples: string[] = [];
  return new Promise<LoadResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...payload.headers },
        body: payload.body,
        connections,
        duration: seconds,
        timeout: 30,
      },
      (error: unknown, result) => {
        if (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        latencies.sort((a, b) => a - b);
        resolve({
          connections,
          seconds: result.duration,
          // Every request carries one row: 2xx / duration is rows/s counted exactly.
          requestsPerSecond: round(result['2xx'] / result.duration),
          ok: result['2xx'],
          latencyMs: {
            p50: round(percentile(latencies, 50), 2),
            p95: round(percentile(latencies, 95), 2),
            p99: round(percentile(latencies, 99), 2),
            max: round(latencies.at(-1) ?? NaN, 2),
            mean: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), 2),
          },
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          errorSamples,
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
      else if (errorSamples.length < 5) errorSamples.push(`HTTP ${statusCode}`);
    });
    instance.on('reqError', (error: unknown) => {
      if (errorSamples.length < 5) errorSamples.push(String(error));
    });
  });
}
