/**
 * Load from the host to a Service's ClusterIP (a cluster address, behind the guard): a few
 * workers posting V2 infer requests back to back, counting answers and failures, for the
 * journeys that must lose no request (failover, rolling upgrade, retraining hot-reload).
 */
import assert from 'node:assert/strict';

export interface LoadResult {
  ok: number;
  failures: string[];
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
}

export function startLoad(options: LoadOptions): Load {
  const started = Date.now();
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const target = `${options.url}/v2/models/${options.model}/infer`;
  const worker = async () => {
    while (running) {
      try {
        const res = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: options.body,
          signal: AbortSignal.timeout(15_000),
        });
        const text = await res.text();
        if (res.status === 200) ok++;
        else failures.push(`HTTP ${res.status}: ${text.slice(0, 200)}`);
      } catch (error) {
        failures.push(String((error as Error).cause ?? error));
      }
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
      return { ok, failures, seconds: (Date.now() - started) / 1000 };
    },
  };
}

/** Logs the journey's figures and asserts that no request failed and enough were answered. */
export function assertNoFailures(journey: string, result: LoadResult, minimum = 20): void {
  console.log(
    `# ${journey}: ${result.ok} requests answered, ${result.failures.length} failed in ${result.seconds.toFixed(0)} s`,
  );
  assert.deepEqual(
    result.failures.slice(0, 5),
    [],
    `${result.failures.length} of ${result.ok + result.failures.length} failed`,
  );
  assert.ok(result.ok >= minimum, `only ${result.ok} requests answered`);
}
