import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decide } from './index.ts';

const accuracy = { metric: 'accuracy', higherIsBetter: true, tolerance: 0.01 };
const rmse = { metric: 'rmse', higherIsBetter: false, tolerance: 0 };

test('higher is better: passes when at least as good within the tolerance', () => {
  const baseline = { version: 3, metrics: { accuracy: 0.6 } };
  assert.equal(decide({ accuracy: 0.65 }, baseline, accuracy).pass, true);
  assert.equal(decide({ accuracy: 0.595 }, baseline, accuracy).pass, true);
  const worse = decide({ accuracy: 0.58 }, baseline, accuracy);
  assert.equal(worse.pass, false);
  assert.match(worse.reason, /candidate worse: accuracy 0\.5800 vs 0\.6000 for version 3/);
});

test('lower is better: rmse', () => {
  const baseline = { version: 1, metrics: { rmse: 10 } };
  assert.equal(decide({ rmse: 9 }, baseline, rmse).pass, true);
  assert.equal(decide({ rmse: 10 }, baseline, rmse).pass, true);
  assert.equal(decide({ rmse: 10.5 }, baseline, rmse).pass, false);
});

test('no serving version passes; a candidate without the metric fails', () => {
  assert.match(decide({ accuracy: 0.3 }, undefined, accuracy).reason, /no version is serving/);
  assert.equal(decide({ accuracy: 0.3 }, undefined, accuracy).pass, true);
  const missing = decide({ loss: 1 }, { version: 1, metrics: { accuracy: 0.5 } }, accuracy);
  assert.equal(missing.pass, false);
  assert.match(missing.reason, /no finite accuracy/);
  assert.equal(decide({ accuracy: NaN }, undefined, accuracy).pass, false);
});

test('too few held-out samples keep the serving version, whatever the scores', () => {
  const baseline = { version: 2, metrics: { accuracy: 0.2 } };
  const small = decide({ accuracy: 0.9 }, baseline, accuracy, 12);
  assert.equal(small.pass, false);
  assert.match(
    small.reason,
    /only 12 held-out samples to compare with version 2 \(fewer than 30\)/,
  );
  assert.equal(decide({ accuracy: 0.9 }, baseline, { ...accuracy, minHeldOut: 10 }, 12).pass, true);
  // With nothing serving there is nothing to compare: the size does not matter.
  assert.equal(decide({ accuracy: 0.9 }, undefined, accuracy, 12).pass, true);
});
