/**
 * Parameters of every script, from `__ENV` (`k6 run -e RATE=50 ...` or the environment):
 * each read with a default and checked, so a typo stops the run with a message naming the
 * variable instead of running the wrong test. Runs in k6's JavaScript runtime, not Node.
 */

/** A `__ENV` value; unset or empty means `fallback`. */
export function envText(name: string, fallback: string): string {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

/** A positive number (requests per time unit, milliseconds, VUs...). */
export function envNumber(name: string, fallback: number): number {
  const text = envText(name, String(fallback));
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** A positive integer (VUs, rates of arrival-rate executors). */
export function envInt(name: string, fallback: number): number {
  const value = envNumber(name, fallback);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer, got ${value}`);
  return value;
}

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Seconds of a k6 duration such as `30s`, `1m30s`, `2h`, `500ms`. */
export function durationSeconds(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new Error(`${JSON.stringify(text)} is not a duration like 30s, 1m30s, 2h or 500ms`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_SECONDS[p[2] ?? 's'] ?? 1), 0);
}

/** A k6 duration (`30s`, `5m`, `1h30m`), checked. */
export function envDuration(name: string, fallback: string): string {
  const text = envText(name, fallback);
  try {
    if (durationSeconds(text) <= 0) throw new Error('it must be longer than 0');
  } catch (error) {
    throw new Error(`${name}: ${(error as Error).message}`);
  }
  return text;
}

/** A comma-separated list of rates (`10,20,40`). */
export function envRates(name: string, fallback: string): number[] {
  const text = envText(name, fallback);
  const rates = text.split(',').map((part) => Number(part.trim()));
  if (rates.length === 0 || rates.some((r) => !Number.isInteger(r) || r <= 0)) {
    throw new Error(`${name} must be positive integers separated by commas, got ${text}`);
  }
  return rates;
}

export type Protocol = 'v1' | 'v2' | 'mscr';
const PROTOCOLS: readonly Protocol[] = ['v1', 'v2', 'mscr'];

/** Which protocols the load scripts send (round robin), e.g. `v2` or `v1,v2,mscr`. */
export function envProtocols(name: string, fallback: string): Protocol[] {
  const text = envText(name, fallback);
  const list = text.split(',').map((p) => p.trim());
  const bad = list.filter((p) => !(PROTOCOLS as readonly string[]).includes(p));
  if (list.length === 0 || bad.length > 0) {
    throw new Error(`${name} takes ${PROTOCOLS.join(', ')} (comma-separated), got ${text}`);
  }
  return list as Protocol[];
}

/** Settings every script shares. */
export const common = {
  /** The service: the embedded one the runner starts, a port-forward or an ingress URL. */
  baseUrl: envText('BASE_URL', 'http://localhost:8080').replace(/\/+$/, ''),
  /** The model to load; empty: the first image model the service serves (else the first). */
  model: envText('MODEL', ''),
  protocols: envProtocols('PROTOCOLS', 'v1,v2,mscr'),
  /** Per-request timeout: a slower answer counts as a failed request. */
  timeout: envDuration('TIMEOUT', '10s'),
  /** Where handleSummary writes `<script>-summary.json` (relative to k6's working folder). */
  resultsDir: envText('RESULTS_DIR', 'results/loadtest').replace(/\/+$/, ''),
};
