/**
 * `loadtest/rollout.ts` run for real: the real k6 (`.tools/bin/k6`) drives a canary on a real
 * Service (two versions of the toy classifier in a real local store) and must exit 0 only
 * when no request failed and the rollout ended as expected; a broken candidate that is
 * expected to be promoted must make it exit 99.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { tempStore, type TempStore } from '../service/reload/test-support.ts';
import type { Service } from '../service/server.ts';
import { publishToyClassifier, startService, waitUntil } from '../service/test-support.ts';

const root = resolve(import.meta.dirname, '..');
const k6 = process.env.K6 || join(root, '.tools', 'bin', 'k6');
const missing = !existsSync(k6);
if (missing && process.env.CI)
  throw new Error(`k6 is missing at ${k6}: node scripts/setup-tools.mjs k6`);
const skip = missing ? `k6 is missing at ${k6} (node scripts/setup-tools.mjs k6)` : false;

const TOKEN = 'k6-rollout-admin-token-0123456';
let temp: TempStore;
let service: Service;
let url: string;
let results: string;

before(async () => {
  if (skip) return;
  temp = await tempStore();
  results = await mkdtemp(join(tmpdir(), 'mscr-rollout-k6-'));
  await publishToyClassifier(temp.store, 'toy', 1); // v1 stable
  await publishToyClassifier(temp.store, 'toy', 1, 3); // v2 good
  await publishToyClassifier(temp.store, 'toy', 0); // v3 broken: the other class for every input
  await temp.store.setAlias('toy', 'stable', 1);
  ({ service, url } = await startService(temp.dir, {
    policy: 'alias:stable',
    adminToken: TOKEN,
    rolloutInterval: '0.5',
  }));
  await waitUntil(() => service.dataPlane.ready(), 'the stable version');
});
after(async () => {
  await service?.stop();
  await temp?.cleanup();
  if (results) await rm(results, { recursive: true, force: true });
});

function k6Run(env: Record<string, string>): Promise<{ code: number; output: string }> {
  const args = ['run', '--quiet', '--no-usage-report'];
  for (const [k, v] of Object.entries({
    BASE_URL: url,
    MODEL: 'toy',
    ADMIN_TOKEN: TOKEN,
    RESULTS_DIR: results,
    RATE: '30',
    DURATION: '12s',
    STEPS: '10,50,100',
    STEP_EVERY_S: '0',
    MIN_REQUESTS: '15',
    P95_MS: '60000',
    P99_MS: '60000',
    ...env,
  }))
    args.push('-e', `${k}=${v}`);
  args.push(join(root, 'loadtest', 'rollout.ts'));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(k6, args, {
      cwd: root,
      env: { ...process.env, K6_NO_USAGE_REPORT: 'true' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? -1, output }));
  });
}

interface Summary {
  passed: boolean;
  requests: number;
  errorRate: number;
  failedRequestsAll: number;
}

test('k6 drives a good canary to promotion with no failed request', { skip }, async () => {
  const run = await k6Run({ CANDIDATE: '2', EXPECT: 'promoted' });
  assert.equal(run.code, 0, run.output.slice(-4000));
  const summary = JSON.parse(
    await readFile(join(results, 'rollout-summary.json'), 'utf8'),
  ) as Summary;
  assert.equal(summary.passed, true);
  assert.equal(summary.failedRequestsAll, 0);
  assert.ok(summary.requests > 100, `requests: ${summary.requests}`);
  assert.equal(await temp.store.getAlias('toy', 'stable'), 2);
});

test(
  'a broken candidate expected to be promoted fails the run (exit 99): it was rolled back',
  { skip },
  async () => {
    const run = await k6Run({ CANDIDATE: '3', EXPECT: 'promoted', DURATION: '6s' });
    assert.equal(run.code, 99, run.output.slice(-4000));
    assert.match(run.output, /rollout: ended rolled_back \(expected promoted\)/);
    assert.equal(await temp.store.getAlias('toy', 'stable'), 2);
  },
);
