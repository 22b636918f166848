/**
 * soak: availability over a long time at a low rate: RATE requests per TIME_UNIT for
 * DURATION (the MSC/R paper's availability test, a request an hour for 7 days, is
 * RATE=1 TIME_UNIT=1h DURATION=168h). Every request must succeed; the summary reports
 * availability (the share of answered requests) and latency.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 -e RATE=2 -e DURATION=30m loadtest/soak.ts
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

const rate = envInt('RATE', 2);
const timeUnit = envDuration('TIME_UNIT', '1s');
const duration = envDuration('DURATION', '10m');

export const options: Options = {
  scenarios: { soak: constantRate(rate, timeUnit, duration, 2) },
  thresholds: { ...baseThresholds(common.protocols), dropped_iterations: ['count==0'] },
  summaryTrendStats,
};
export const setup = setupTarget;
export default mixedIteration;

export function handleSummary(data: SummaryData) {
  const total = data.metrics['http_reqs{traffic:load}']?.values.count ?? 0;
  const failedRate = data.metrics['http_req_failed{traffic:load}']?.values.rate ?? 0;
  const availability = total === 0 ? 0 : 1 - failedRate;
  return summaryOutputs('soak', data, {
    target: targetOf(data)?.model,
    notes: [
      `asked for ${rate} requests per ${timeUnit} for ${duration}`,
      `availability ${(availability * 100).toFixed(3)} % of ${total} requests`,
    ],
  });
}
