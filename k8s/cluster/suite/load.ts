/**
 * Load from the host to a Service's ClusterIP (a cluster address, behind the guard): a few
 * workers posting V2 infer requests back to back, counting answers and failures.
 *
 * The journeys that the issue runs "with a k6 scenario in the cluster" (retraining hot-reload,
 * HPA) use k6 pods instead (suite/k6.ts). This host load stays for the failover and rolling
 * upgrade journeys, where it is the better tool: it keeps every failure with its cause and
 * time (k6's summary only counts them), and for the killed container it retries a request
 * whose connection broke, as the mscr client SDK does for inference, counting the first
 * attempts that failed, so the test can say exactly what a SIGKILL costs.
 */
import assert from 'node:assert/strict';

export interface LoadResult {
  ok: number;
  /** Requests that failed (after their retries, when retrying). */
  failures: string[];
  /** Requests whose first attempt failed on a broken or refused connection and that a retry answered. */
  retried: number;
  /** The causes of the first attempts that broke so, with their counts (`ECONNREFUSED: 3`). */
  retryCauses: Record<string, number>;
  /** When those first attempts broke (ms since the epoch). */
  brokenAt: number[];
  seconds: number;
}

export interface Load {
  /** Answers so far. */
  readonly ok: number;
  stop(): Promise<LoadResult>;
}

export interface LoadOptions {
  /** http://<ClusterIP> of the Service. */
  url: string;
  model: string;
  /** The V2 infer request body. */
  body: string;
  /** Concurrent workers (default 4). */
  workers?: number;
  /** Pause in ms between a worker's requests (default 0: back to back). */
  pauseMs?: number;
  /**
   * Retry a request whose connection was refused or broke before an answer (inference is
   * idempotent), after 200, 400, 800 ... ms, this many times. Default 0: every such request
   * is a failure. HTTP errors and timeouts are never retried.
   */
  connectionRetries?: number;
}

/** The error codes of a connection that was refused or broke before an answer came. */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
]);

function connectionErrorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  return code !== undefined && CONNECTION_ERRORS.has(code) ? code : undefined;
}

export function startLoad(options: LoadOptions): Load {
  const started = Date.now();
  let running = true;
  let ok = 0;
  let retried = 0;
  const retryCauses: Record<string, number> = {};
  const brokenAt: number[] = [];
  const failures: string[] = [];
  const target = `${options.url}/v2/models/${options.model}/infer`;
  const retries = options.connectionRetries ?? 0;
  const attempt = async (): Promise<string | undefined> => {
    for (let n = 0; ; n++) {
      try {
        const res = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: options.body,
          signal: AbortSignal.timeout(15_000),
        });
        const text = await res.text();
        if (res.status !== 200) return `HTTP ${res.status}: ${text.slice(0, 200)}`;
        if (n > 0) retried++;
        return undefined;
      } catch (error) {
        const code = connectionErrorCode(error);
        if (code === undefined || n >= retries) {
          return `${String((error as Error).cause ?? error)}${n > 0 ? ` (after ${n} retries)` : ''}`;
        }
        if (n === 0) {
          retryCauses[code] = (retryCauses[code] ?? 0) + 1;
          brokenAt.push(Date.now());
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** n));
      }
    }
  };
  const worker = async () => {
    while (running) {
      const failure = await attempt();
      if (failure === undefined) ok++;
      else failures.push(failure);
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  };
  const workers = Array.from({ length: options.workers ?? 4 }, worker);
  return {
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await Promise.all(workers);
      return {
        ok,
        failures,
        retried,
        retryCauses,
        brokenAt,
        seconds: (Date.now() - started) / 1000,
      };
    },
  };
}

/** Logs the journey's figures and asserts that no request failed and enough were answered. */
export function assertNoFailures(journey: string, result: LoadResult, minimum = 20): void {
  const retried =
    result.retried > 0 || Object.keys(result.retryCauses).length > 0
      ? `, ${result.retried} answered only on a retry after a broken connection (first attempts: ${JSON.stringify(result.retryCauses)})`
      : '';
  console.log(
    `# ${journey}: ${result.ok} requests answered, ${result.failures.length} failed in ${result.seconds.toFixed(0)} s${retried}`,
  );
  assert.deepEqual(
    result.failures.slice(0, 5),
    [],
    `${result.failures.length} of ${result.ok + result.failures.length} failed`,
  );
  assert.ok(result.ok >= minimum, `only ${result.ok} requests answered`);
}
