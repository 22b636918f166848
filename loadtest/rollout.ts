/**
 * rollout: a full canary under load. Setup starts a canary of CANDIDATE (default: the newest
 * version) on MODEL through the admin API; a constant RATE of V2 requests runs for DURATION,
 * each from one of CALLERS caller keys (`x-mscr-caller`, so every caller sticks to a version);
 * teardown reads the rollout. Thresholds: no failed request, every check true, answers from
 * both versions, and the rollout ended as EXPECT (`promoted`, or `rolled_back` for a broken
 * candidate).
 *
 * The service must run with an admin token, `--policy alias:stable` and a short
 * `--rollout-interval`, with the stable alias on the current version and the candidate
 * published beside it:
 *
 *   mscr serve --store ./models --policy alias:stable --admin-token $TOKEN --rollout-interval 1
 *   k6 run -e BASE_URL=http://localhost:8080 -e MODEL=toy -e ADMIN_TOKEN=$TOKEN \
 *     -e STEPS=10,50,100 -e STEP_EVERY_S=2 -e MIN_REQUESTS=20 -e DURATION=30s loadtest/rollout.ts
 */
import http from 'k6/http';
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Rate } from 'k6/metrics';
import type { Options } from 'k6/options';
import { bodies } from './lib/api.ts';
import { common, envDuration, envInt, envText } from './lib/config.ts';
import { constantRate, setupTarget, targetOf, type TargetData } from './lib/scenarios.ts';
import {
  baseThresholds,
  summaryOutputs,
  summaryTrendStats,
  type SummaryData,
} from './lib/summary.ts';

const rate = envInt('RATE', 40);
const duration = envDuration('DURATION', '30s');
const callers = envInt('CALLERS', 200);
const token = envText('ADMIN_TOKEN', '');
const expect = envText('EXPECT', 'promoted');
/** Least seconds at each step; 0 lets every passing analysis advance. */
const stepEvery = Number(envText('STEP_EVERY_S', '1'));
if (!Number.isFinite(stepEvery) || stepEvery < 0) {
  throw new Error(
    `STEP_EVERY_S must be a number of seconds >= 0, got ${envText('STEP_EVERY_S', '1')}`,
  );
}
const steps = envText('STEPS', '10,50,100')
  .split(',')
  .map((s) => Number(s.trim()));

/** Answers by the stable (setup's) version and by any other. */
const stableAnswers = new Counter('stable_answers');
const candidateAnswers = new Counter('candidate_answers');
/** Teardown: did the rollout end as expected? */
const rolloutAsExpected = new Rate('rollout_as_expected');

export const options: Options = {
  scenarios: { rollout: constantRate(rate, '1s', duration) },
  thresholds: {
    ...baseThresholds(['v2']),
    candidate_answers: ['count>0'],
    stable_answers: ['count>0'],
    rollout_as_expected: ['rate==1'],
  },
  summaryTrendStats,
};

interface RolloutData extends TargetData {
  stable: number;
}

function admin(method: 'GET' | 'POST', path: string, body?: unknown) {
  return http.request(
    method,
    `${common.baseUrl}/mscr/models/${path}`,
    body === undefined ? null : JSON.stringify(body),
    {
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      tags: { traffic: 'setup' },
      timeout: common.timeout,
    },
  );
}

export function setup(): RolloutData {
  if (token === '') throw new Error('ADMIN_TOKEN must be the service admin token');
  const data = setupTarget();
  const candidate = envText('CANDIDATE', '');
  const response = admin('POST', `${data.target.model}/rollout/start`, {
    mode: 'canary',
    weight: steps[0],
    steps,
    stepEverySeconds: stepEvery,
    thresholds: { minRequests: envInt('MIN_REQUESTS', 20) },
    ...(candidate !== '' ? { candidate: Number(candidate) } : {}),
  });
  if (response.status !== 201) {
    throw new Error(
      `starting the rollout answered ${response.status}: ${String(response.body).slice(0, 300)}`,
    );
  }
  const state = response.json() as { stable: number; candidate: number };
  console.log(`rollout: ${data.target.model} version ${state.candidate} against ${state.stable}`);
  return { ...data, stable: state.stable };
}

export default function rollout(data: RolloutData): void {
  const caller = `k6-${exec.scenario.iterationInTest % callers}`;
  const response = http.post(
    `${common.baseUrl}/v2/models/${encodeURIComponent(data.target.model)}/infer`,
    bodies(data.target).v2,
    {
      headers: { 'Content-Type': 'application/json', 'x-mscr-caller': caller },
      tags: {
        traffic: 'load',
        protocol: 'v2',
        endpoint: 'POST /v2/models/{m}/infer',
        name: 'POST /v2/models/{m}/infer',
      },
      timeout: common.timeout,
    },
  );
  const version = response.status === 200 ? Number(response.json('model_version')) : undefined;
  check(response, {
    'V2 infer answers 200': (r) => r.status === 200,
    'V2 infer names the version that answered': () => version !== undefined && version > 0,
  });
  if (version === data.stable) stableAnswers.add(1);
  else if (version !== undefined) candidateAnswers.add(1);
}

export function teardown(data: RolloutData): void {
  const response = admin('GET', `${data.target.model}/rollout`);
  const phase = (response.json('rollout.phase') as string | null) ?? 'none';
  check(response, { 'rollout status read': (r) => r.status === 200 });
  rolloutAsExpected.add(phase === expect);
  console.log(`rollout: ended ${phase} (expected ${expect})`);
}

export function handleSummary(data: SummaryData) {
  return summaryOutputs('rollout', data, {
    target: targetOf(data)?.model,
    notes: [
      `canary steps ${steps.join(',')} at ${rate} requests/s for ${duration}; expected ${expect}`,
    ],
  });
}
