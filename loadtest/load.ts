/**
 * load: a constant arrival rate (RATE requests per second, whatever the latency) for
 * DURATION against one model, the protocols of PROTOCOLS in turn. Fails on any failed
 * request or check, on a dropped iteration (the rate was not held), and on p95 / p99 above
 * P95_MS / P99_MS.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 -e RATE=20 -e DURATION=1m loadtest/load.ts
 */
import type { Options } from 'k6/options';
import { common, envDuration, envInt } from './lib/config.ts';
import { constantRate, mixedIteration, setupTarget, targetOf } from './lib/scenarios.ts';
import {
  baseThresholds,
  summaryOutputs,
  summaryTrendStats,
  type SummaryData,
} from './lib/summary.ts';

const rate = envInt('RATE', 20);
const duration = envDuration('DURATION', '1m');

export const options: Options = {
  scenarios: { load: constantRate(rate, '1s', duration) },
  thresholds: { ...baseThresholds(common.protocols), dropped_iterations: ['count==0'] },
  summaryTrendStats,
};
export const setup = setupTarget;
export default mixedIteration;

export function handleSummary(data: SummaryData) {
  return summaryOutputs('load', data, {
    target: targetOf(data)?.model,
    notes: [`asked for ${rate} requests/s for ${duration}`],
  });
}
