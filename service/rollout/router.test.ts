import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_THRESHOLDS, type RolloutState } from '../../connectors/store/rollout.ts';
import { latest, alias } from '../reload/policy.ts';
import type { DesiredState } from '../reload/source.ts';
import { withCaller } from './context.ts';
import { withRollout } from './policy.ts';
import { RolloutRouter, agreement, bucketOf, inCanary } from './router.ts';

const at = '2026-12-03T15:00:00.000Z';
function rollout(overrides: Partial<RolloutState> = {}): RolloutState {
  return {
    model: 'toy',
    stable: 2,
    candidate: 3,
    mode: 'canary',
    phase: 'running',
    weight: 25,
    steps: [25, 50, 100],
    step: 0,
    stepEveryMs: 0,
    thresholds: { ...DEFAULT_THRESHOLDS },
    startedAt: at,
    updatedAt: at,
    stepStartedAt: at,
    ...overrides,
  };
}
const desired = (r?: RolloutState, versions = [1, 2, 3]): DesiredState => ({
  model: 'toy',
  versions,
  aliases: { stable: 2 },
  ...(r ? { rollout: r } : {}),
});

test('the rollout policy serves the union while a rollout runs, and never a rolled-back candidate', () => {
  const policy = withRollout(latest(1));
  assert.equal(policy.description, 'rollout(latest:1)');
  assert.deepEqual(policy(desired()), [3]);
  assert.deepEqual(policy(desired(rollout())), [2, 3]);
  assert.deepEqual(policy(desired(rollout({ mode: 'shadow' }))), [2, 3]);
  // A version that is not ready is not aspired.
  assert.deepEqual(policy(desired(rollout(), [1, 2])), [2]);
  assert.deepEqual(policy(desired(rollout({ mode: 'off', phase: 'rolled_back' }))), [2]);
  assert.deepEqual(policy(desired(rollout({ mode: 'off', phase: 'promoted' }))), [3]);
  // Any base policy: alias:stable follows the alias once the rollout is over.
  assert.deepEqual(
    withRollout(alias('stable'))(desired(rollout({ mode: 'off', phase: 'promoted' }))),
    [2],
  );
});

test('the canary split is sticky per caller and moves callers only towards the candidate', () => {
  const keys = Array.from({ length: 4000 }, (_, i) => `caller-${i}`);
  for (const weight of [5, 25, 50]) {
    const share = keys.filter((k) => inCanary(bucketOf(k), weight)).length / keys.length;
    assert.ok(Math.abs(share - weight / 100) < 0.03, `share ${share} at ${weight} %`);
  }
  for (const key of keys.slice(0, 500)) {
    if (inCanary(bucketOf(key), 5)) assert.ok(inCanary(bucketOf(key), 25));
  }
  assert.equal(inCanary(0, 0), false);
  assert.equal(inCanary(9999, 100), true);

  const router = new RolloutRouter();
  router.update(desired(rollout()));
  const routeOf = (key: string) => withCaller(key, () => router.route('toy'));
  for (const key of keys.slice(0, 200)) {
    const first = routeOf(key);
    assert.deepEqual(routeOf(key), first);
    assert.deepEqual(first?.versions, inCanary(bucketOf(key), 25) ? [3, 2] : [2]);
  }
  router.update(desired(rollout({ mode: 'shadow', weight: 0 })));
  assert.deepEqual(router.route('toy'), { versions: [2], shadow: 3 });
  router.update(desired(rollout({ mode: 'off', phase: 'rolled_back' })));
  assert.equal(router.route('toy'), undefined);
  router.update(desired());
  assert.equal(router.state('toy'), undefined);
  assert.equal(router.route('other'), undefined);
});

test('evidence goes to the window of the current step, by role; a new step starts a new window', () => {
  const router = new RolloutRouter();
  router.update(desired(rollout()));
  const out = (cls: number) => ({
    output: Float32Array.from(cls === 0 ? [0.9, 0.1] : [0.1, 0.9]),
    shape: [1, 2],
  });
  router.observe({ kind: 'answer', model: 'toy', version: 2, ms: 3, ...out(0) });
  router.observe({ kind: 'answer', model: 'toy', version: 3, ms: 4, ...out(1) });
  router.observe({ kind: 'error', model: 'toy', version: 3, error: new Error('x') });
  router.observe({ kind: 'answer', model: 'toy', version: 1, ms: 4, ...out(1) }); // not in the rollout
  router.feedback('toy', 3, false);
  const w = router.window('toy');
  assert.deepEqual(w?.side('stable'), {
    requests: 1,
    errors: 0,
    latenciesMs: [3],
    classCounts: [1],
    feedback: { total: 0, correct: 0 },
  });
  assert.deepEqual(w?.side('candidate'), {
    requests: 2,
    errors: 1,
    latenciesMs: [4],
    classCounts: [0, 1],
    feedback: { total: 1, correct: 0 },
  });
  // The same step re-emitted keeps the window; the next step starts a fresh one.
  router.update(desired(rollout()));
  assert.equal(router.window('toy'), w);
  router.update(
    desired(rollout({ weight: 50, step: 1, stepStartedAt: '2026-12-03T15:10:00.000Z' })),
  );
  assert.notEqual(router.window('toy'), w);
  assert.equal(router.window('toy')?.side('candidate').requests, 0);

  router.update(desired(rollout({ mode: 'shadow' })));
  router.observe({ kind: 'shadow', model: 'toy', version: 3, ms: 2, ...out(0), primary: out(0) });
  router.observe({ kind: 'shadow', model: 'toy', version: 3, ms: 2, ...out(1), primary: out(0) });
  assert.deepEqual({ ...router.window('toy')?.shadow }, { compared: 2, agreed: 1, skipped: 0 });
});

test('agreement compares classes, or values within 1 %', () => {
  const two = (a: number[], b: number[]) =>
    agreement(
      { output: Float32Array.from(a), shape: [a.length / 2, 2] },
      { output: Float32Array.from(b), shape: [b.length / 2, 2] },
    );
  assert.deepEqual(two([0.9, 0.1, 0.2, 0.8], [0.6, 0.4, 0.7, 0.3]), { rows: 2, agreed: 1 });
  const one = (a: number[], b: number[]) =>
    agreement(
      { output: Float32Array.from(a), shape: [a.length, 1] },
      { output: Float32Array.from(b), shape: [b.length, 1] },
    );
  assert.deepEqual(one([100, 200], [100.5, 250]), { rows: 2, agreed: 1 });
});

test('the version that speaks for a model: stable while a rollout runs, the winner right after it ends', () => {
  const changes: string[] = [];
  const router = new RolloutRouter({
    onServingChange: (model, version) => changes.push(`${model}:${String(version)}`),
  });
  router.update(desired());
  assert.equal(router.preferred('toy'), undefined);
  router.update(desired(rollout()));
  assert.equal(router.preferred('toy'), 2);
  router.update(desired(rollout({ weight: 50, stepStartedAt: '2026-12-03T15:10:00.000Z' })));
  // This replica ends it: the candidate answers at once, before the store says so.
  router.apply(rollout({ mode: 'off', phase: 'promoted' }));
  assert.equal(router.preferred('toy'), 3);
  assert.deepEqual(router.route('toy'), { versions: [3] });
  // The next emission carries the news to the manager too: the pin goes.
  router.update(desired(rollout({ mode: 'off', phase: 'promoted' })));
  assert.equal(router.preferred('toy'), undefined);
  assert.equal(router.route('toy'), undefined);
  router.apply(rollout({ candidate: 4 }));
  router.apply(rollout({ candidate: 4, mode: 'off', phase: 'rolled_back' }));
  assert.deepEqual(router.route('toy'), { versions: [2] });
  assert.deepEqual(changes, ['toy:2', 'toy:3', 'toy:undefined', 'toy:2']);
});
