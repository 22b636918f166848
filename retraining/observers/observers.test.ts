import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelSignals } from '../../connectors/sr/index.ts';
import { observe, populationStabilityIndex } from './index.ts';

const signals = (over: Partial<ModelSignals>): ModelSignals => ({
  model: 'm',
  version: 1,
  since: '2026-12-01T00:00:00Z',
  predictions: 0,
  feedback: { count: 0, judged: 0, correct: 0 },
  ...over,
});

test('PSI: zero for the same distribution, the textbook value for a shift', () => {
  assert.equal(populationStabilityIndex([1, 1], [50, 50]), 0);
  // (0.8-0.5)ln(0.8/0.5) + (0.2-0.5)ln(0.2/0.5) = 0.1410 + 0.2749
  assert.ok(Math.abs(populationStabilityIndex([0.5, 0.5], [80, 20]) - 0.41589) < 1e-4);
  // An empty bin does not make it infinite.
  assert.ok(Number.isFinite(populationStabilityIndex([0.5, 0.5], [100, 0])));
});

test('class drift fires only past the threshold and with enough predictions', () => {
  const reference = { classFrequencies: [0.5, 0.5] };
  const labels = ['cat', 'dog'];
  const policy = { maxClassPsi: 0.2, minPredictions: 100, minFeedback: 20 };
  const shifted = signals({ predictions: 100, predictedClasses: { cat: 80, dog: 20 } });
  const fired = observe(shifted, policy, { reference, labels });
  assert.equal(fired.fire, true);
  assert.match(fired.reasons[0] ?? '', /predicted-class PSI 0\.416 > 0\.2/);
  const few = signals({ predictions: 99, predictedClasses: { cat: 80, dog: 19 } });
  assert.equal(observe(few, policy, { reference, labels }).fire, false);
  const stable = signals({ predictions: 100, predictedClasses: { cat: 52, dog: 48 } });
  assert.equal(observe(stable, policy, { reference, labels }).fire, false);
});

test('feedback accuracy fires below the threshold once enough is judged; data age too', () => {
  const policy = {
    minFeedbackAccuracy: 0.6,
    minFeedback: 20,
    minPredictions: 100,
    maxDataAgeDays: 30,
  };
  const poor = signals({ feedback: { count: 25, judged: 20, correct: 9, accuracy: 0.45 } });
  const result = observe(poor, policy, {
    trainedAt: '2026-11-25T00:00:00Z',
    now: new Date('2026-12-02T00:00:00Z'),
  });
  assert.deepEqual(result.reasons, ['accuracy on 20 labelled feedback 0.450 < 0.6']);
  assert.equal(result.dataAgeDays, 7);
  const early = signals({ feedback: { count: 19, judged: 19, correct: 0 } });
  assert.equal(observe(early, policy).fire, false);
  const old = observe(signals({}), policy, {
    trainedAt: '2026-10-01T00:00:00Z',
    now: new Date('2026-12-02T00:00:00Z'),
  });
  assert.match(old.reasons[0] ?? '', /training data 62\.0 days old > 30/);
});
