/**
 * reload: steady load (RATE requests per second for DURATION) while a new version of MODEL
 * is published; the service must switch to it with zero failed requests. Setup records the
 * served version; every V2 and mscr answer says which version answered; teardown asks
 * `GET /v1/models/{m}` again. Thresholds: no failed request, every check true, at least one
 * answer from a newer version, and a newer version served at the end.
 *
 * Something must publish the version during the run: `npm run loadtest -- reload` does (it
 * runs `mscr train` into the store PUBLISH_AT seconds in); against a cluster, pass it the
 * command (`--publish-cmd`), or publish by hand while k6 runs.
 *
 *   k6 run -e BASE_URL=http://localhost:8080 -e MODEL=cifar10-cnn -e DURATION=40s loadtest/reload.ts
 */
import exec from 'k6/execution';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';
import { common, envDuration, envInt } from './lib/config.ts';
import { mixedRequest, servedVersion } from './lib/api.ts';
import { constantRate, setupTarget, targetOf, type TargetData } from './lib/scenarios.ts';
import {
  baseThresholds,
  summaryOutputs,
  summaryTrendStats,
  type SummaryData,
} from './lib/summary.ts';

const rate = envInt('RATE', 20);
const duration = envDuration('DURATION', '40s');

/** Answers from a version newer than the one served at setup. */
const newVersionResponses = new Counter('new_version_responses');
/** Milliseconds after setup of each answer from the newer version (its min: the switch). */
const newVersionSeenAt = new Trend('new_version_seen_at');
/** Teardown: is a newer version served at the end? */
const versionSwitched = new Rate('version_switched');
/** The newest AVAILABLE version at the end (teardown), for the summary. */
const versionAtEnd = new Gauge('version_at_end');

export const options: Options = {
  scenarios: { reload: constantRate(rate, '1s', duration) },
  thresholds: {
    ...baseThresholds(common.protocols),
    new_version_responses: ['count>0'],
    version_switched: ['rate==1'],
  },
  summaryTrendStats,
};

export function setup(): TargetData {
  const data = setupTarget();
  console.log(
    `reload: ${data.target.model} serves version ${data.target.version}; publish a new one now`,
  );
  return data;
}

export default function reload(data: TargetData): void {
  const { target } = data;
  const answer = mixedRequest(target, exec.scenario.iterationInTest);
  if (answer.version !== undefined && answer.version > target.version) {
    newVersionResponses.add(1);
    newVersionSeenAt.add(Date.now() - data.startedAt);
  }
}

export function teardown(data: TargetData): void {
  const now = servedVersion(data.target.model);
  versionSwitched.add(now > data.target.version);
  versionAtEnd.add(now);
  console.log(
    `reload: ${data.target.model} served version ${data.target.version} at the start, ${now} at the end`,
  );
}

export function handleSummary(data: SummaryData) {
  const target = targetOf(data);
  return summaryOutputs('reload', data, {
    target: target?.model,
    version: {
      before: target?.version ?? 0,
      after: data.metrics.version_at_end?.values.value ?? 0,
    },
    notes: [`asked for ${rate} requests/s for ${duration}`],
  });
}
