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

test('a forecaster is never judged on accuracy: its fed-back values have errors, not right or wrong', () => {
  // What a forecaster's signals look like: every judged piece of feedback is a value.
  const forecaster = signals({
    feedback: {
      count: 30,
      judged: 30,
      correct: 0,
      judgedValues: 30,
      meanAbsoluteError: 3,
      naiveMeanAbsoluteError: 4,
      naiveJudged: 30,
    },
  });
  const policy = { minFeedbackAccuracy: 0.6, minFeedback: 20, minPredictions: 100 };
  const result = observe(forecaster, policy);
  assert.equal(result.fire, false, result.reasons.join('; '));
  assert.equal(result.feedbackAccuracy, undefined);
  assert.equal(result.feedbackMae, 3);
  assert.equal(result.maeVsNaive, 0.75);
});

test('a forecaster fires on its error: absolute, or against the naive forecast on the same days', () => {
  const drifted = (judged: number, mae: number, naive: number) =>
    signals({
      feedback: {
        count: judged,
        judged,
        correct: 0,
        judgedValues: judged,
        meanAbsoluteError: mae,
        naiveMeanAbsoluteError: naive,
        naiveJudged: judged,
      },
    });
  const policy = { minFeedback: 20, minPredictions: 100, maxMaeVsNaive: 1.2, maxFeedbackMae: 10 };
  const worse = observe(drifted(20, 6, 4), policy);
  assert.deepEqual(worse.reasons, [
    "mean absolute error on fed-back values 1.500x the naive forecast's (6.000 vs 4.000) > 1.2x",
  ]);
  const way = observe(drifted(20, 12, 4), policy);
  assert.equal(way.reasons.length, 2);
  assert.match(way.reasons[0] ?? '', /mean absolute error on 20 fed-back values 12\.00 > 10/);
  // Not enough days yet; a tie at the threshold holds; better than naive holds.
  assert.equal(observe(drifted(19, 12, 4), policy).fire, false);
  assert.equal(observe(drifted(20, 4.8, 4), policy).fire, false);
  assert.equal(observe(drifted(20, 3, 4), policy).fire, false);
  // A naive forecast that was exactly right every day gives no ratio (no division by zero).
  const flat = observe(drifted(20, 1, 0), policy);
  assert.equal(flat.maeVsNaive, undefined);
  assert.equal(flat.fire, false);
});
