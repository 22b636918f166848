import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { argmaxRows, classificationReport, predictionProfile, regressionReport } from './index.ts';

describe('classificationReport', () => {
  test('computes accuracy, the confusion matrix and per-class precision and recall', () => {
    const truth = [0, 0, 1, 1, 2, 2];
    const predicted = [0, 1, 1, 1, 2, 0];
    const report = classificationReport(truth, predicted, ['a', 'b', 'c']);
    assert.equal(report.accuracy, 4 / 6);
    assert.deepEqual(report.confusion, [
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    assert.equal(report.perClass[1]?.precision, 2 / 3);
    assert.equal(report.perClass[1]?.recall, 1);
    assert.equal(report.perClass[2]?.precision, 1);
    assert.equal(report.perClass[2]?.recall, 0.5);
    assert.equal(report.perClass[0]?.support, 2);
  });

  test('rejects mismatched lengths and out-of-range classes', () => {
    assert.throws(() => classificationReport([0], [0, 1], ['a', 'b']), /truth has 1/);
    assert.throws(
      () => classificationReport([0, 5], [0, 1], ['a', 'b']),
      /out of range at sample 1/,
    );
  });
});

test('argmaxRows and predictionProfile read a flat probability matrix', () => {
  const probabilities = [0.1, 0.9, 0.8, 0.2, 0.45, 0.55];
  assert.deepEqual([...argmaxRows(probabilities, 2)], [1, 0, 1]);
  const profile = predictionProfile(probabilities, 2);
  assert.deepEqual(profile.classFrequencies, [1 / 3, 2 / 3]);
  assert.equal(profile.confidenceHistogram[9], 1 / 3);
  assert.equal(profile.confidenceHistogram[8], 1 / 3);
  assert.equal(profile.confidenceHistogram[5], 1 / 3);
});

test('regressionReport gives RMSE, MAE and MAPE', () => {
  const report = regressionReport([1, 2, 4], [2, 2, 2]);
  assert.equal(report.mae, 1);
  assert.ok(Math.abs(report.rmse - Math.sqrt(5 / 3)) < 1e-12);
  assert.ok(Math.abs(report.mape - (100 * (1 + 0 + 0.5)) / 3) < 1e-9);
});
