/**
 * stress: the arrival rate climbs in steps (STEPS requests per second, each ramped over
 * RAMP and held for STEP_DURATION) until the service cannot keep up; the summary shows every
 * step and the knee: the first step with a failed request, fewer than 95 % of its requests
 * started (k6 ran out of VUs because answers came too slowly), or p95 above KNEE_P95_MS.
 * The run itself fails only on failed requests or checks: overload must queue, not fail.
 * Against a cluster, watch the HPA meanwhile: `kubectl get hpa -w`.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 -e STEPS=25,50,100,200,400 loadtest/stress.ts
 */
import { durationSeconds, envDuration, envNumber, envRates } from './lib/config.ts';
import {
  expectations,
  setupTarget,
  steppedIteration,
  steppedOptions,
  targetOf,
  type Step,
} from './lib/scenarios.ts';
import { summaryOutputs, type SummaryData } from './lib/summary.ts';

const hold = durationSeconds(envDuration('STEP_DURATION', '20s'));
const ramp = durationSeconds(envDuration('RAMP', '5s'));
const kneeP95Ms = envNumber('KNEE_P95_MS', 500);
const steps: Step[] = envRates('STEPS', '25,50,100,200,400').map((rate) => ({
  name: `${rate}rps`,
  rate,
  rampSeconds: ramp,
  holdSeconds: hold,
}));

export const options = steppedOptions('stress', 1, steps);
export const setup = setupTarget;
export default steppedIteration(steps);

export function handleSummary(data: SummaryData) {
  return summaryOutputs('stress', data, {
    target: targetOf(data)?.model,
    stages: expectations(1, steps),
    kneeP95Ms,
    notes: [`knee: first step with an error, < 95 % of its requests, or p95 > ${kneeP95Ms} ms`],
  });
}
