/**
 * spike: a steady BASE_RATE, then a sudden jump to SPIKE_RATE (reached in SPIKE_RAMP, held for
 * SPIKE_DURATION), then back to BASE_RATE for AFTER: does the service answer everything and
 * recover? Fails on any failed request or check, and when p95 after the spike stays above
 * P95_MS. The summary shows each phase (before, spike, after) and whether the spike was held.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 -e BASE_RATE=10 -e SPIKE_RATE=150 loadtest/spike.ts
 */
import { durationSeconds, envDuration, envInt, envNumber } from './lib/config.ts';
import {
  expectations,
  setupTarget,
  steppedIteration,
  steppedOptions,
  targetOf,
  type Step,
} from './lib/scenarios.ts';
import { summaryOutputs, type SummaryData } from './lib/summary.ts';

const baseRate = envInt('BASE_RATE', 10);
const seconds = (name: string, fallback: string) => durationSeconds(envDuration(name, fallback));
const steps: Step[] = [
  { name: 'before', rate: baseRate, rampSeconds: 0, holdSeconds: seconds('BEFORE', '20s') },
  {
    name: 'spike',
    rate: envInt('SPIKE_RATE', 150),
    rampSeconds: seconds('SPIKE_RAMP', '2s'),
    holdSeconds: seconds('SPIKE_DURATION', '20s'),
  },
  { name: 'after', rate: baseRate, rampSeconds: 2, holdSeconds: seconds('AFTER', '30s') },
];

export const options = steppedOptions('spike', baseRate, steps, {
  'http_req_duration{stage:after}': ['max>=0', `p(95)<${envNumber('P95_MS', 1000)}`],
});
export const setup = setupTarget;
export default steppedIteration(steps);

export function handleSummary(data: SummaryData) {
  return summaryOutputs('spike', data, {
    target: targetOf(data)?.model,
    stages: expectations(baseRate, steps),
    kneeP95Ms: envNumber('KNEE_P95_MS', 500),
  });
}
