import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkDataUri,
  checkSearchMode,
  checkTrials,
  parseSearchFlag,
  parseTrainId,
  planArgs,
  trainId,
} from './train.ts';

describe('the --search grammar', () => {
  test('name=values, aliases to the canonical name, duplicates removed', () => {
    const space = parseSearchFlag('batchSize=16,32,32', parseSearchFlag('lr=0.001, 0.003'));
    assert.deepEqual(space, { learningRate: [0.001, 0.003], batchSize: [16, 32] });
  });

  const bad: [string, RegExp][] = [
    ['momentum=0.9', /unknown parameter "momentum"; use one of learningRate, batchSize, epochs/],
    ['lr=abc', /--search learningRate\[0\]: expected a number, got "abc"/],
    ['lr=0.1,,0.2', /an empty value/],
    ['lr', /expected name=value/],
    ['=1', /expected name=value/],
    ['lr=-0.1', /out of range/],
    ['batchSize=1.5', /expected an integer/],
    ['epochs=0', /out of range/],
    ['lr=Infinity', /expected a number/],
    [`lr=${new Array(21).fill('0.1').join(',')}`, /at most 20 values/],
  ];
  for (const [text, message] of bad) {
    test(`refuses ${text.slice(0, 30)}`, () => {
      assert.throws(() => parseSearchFlag(text), message);
    });
  }

  test('the same parameter twice is an error, not a merge', () => {
    assert.throws(
      () => parseSearchFlag('learningRate=0.1', parseSearchFlag('lr=0.2')),
      /learningRate is given twice/,
    );
  });

  test('budgets from 1 to 50; modes grid and random', () => {
    assert.equal(checkTrials('3'), 3);
    assert.throws(() => checkTrials('0'), /out of range/);
    assert.throws(() => checkTrials('100000'), /at most 50/);
    assert.throws(() => checkTrials(1000), /at most 50/);
    assert.throws(() => checkTrials('2.5'), /integer/);
    assert.throws(() => checkTrials('x'), /expected a number/);
    assert.equal(checkSearchMode('random'), 'random');
    assert.throws(() => checkSearchMode('bayes'), /expected grid or random, got "bayes"/);
  });
});

describe('data URIs', () => {
  const roots = ['/data/train'];
  test('s3, gs, and file inside a root pass', () => {
    assert.equal(checkDataUri('s3://bucket/goog.csv', roots), 's3://bucket/goog.csv');
    assert.equal(checkDataUri('gs://bucket/a/b', roots), 'gs://bucket/a/b');
    assert.equal(checkDataUri('file:///data/train/x.csv', roots), 'file:///data/train/x.csv');
  });
  const hostile: [string, RegExp][] = [
    ['file:///data/training-secrets/x', /outside the folders/],
    ['file:///data/train/../../etc/passwd', /'\.\.'/],
    ['file:///data/train/%2e%2e/x', /percent-encoded/],
    ['file:///data/train/x?y', /queries/],
    ['s3://bucket/x,file:///etc/passwd', /comma/],
    ['file:///data/train/a,file:///etc/passwd', /comma/],
    ['http://169.254.169.254/', /scheme file, s3 or gs/],
    ['S3://b', /s3:\/\/<bucket>/],
    ['/data/train/x.csv', /scheme file, s3 or gs/],
    ['file:data/train', /scheme file, s3 or gs/],
  ];
  for (const [uri, message] of hostile) {
    test(`refuses ${uri}`, () => assert.throws(() => checkDataUri(uri, roots), message));
  }
  test('no roots: file data is off', () => {
    assert.throws(() => checkDataUri('file:///data/train/x.csv', []), /file data is off/);
  });
});

test('train ids: <model>~<run id>, anything else not found', () => {
  const id = trainId('goog', '20261203T181500Z-0a1b2c3d');
  assert.deepEqual(parseTrainId(id), { model: 'goog', runId: '20261203T181500Z-0a1b2c3d' });
  for (const bad of ['goog', '~20261203T181500Z-0a1b2c3d', 'goog~x', `${'a'.repeat(200)}~1`]) {
    assert.throws(
      () => parseTrainId(bad),
      (error: Error & { code?: string }) => error.code === 'not_found',
    );
  }
  assert.throws(() => parseTrainId('../x~20261203T181500Z-0a1b2c3d'), /invalid model name/);
});

test('a plan becomes mscr retrain arguments', () => {
  assert.deepEqual(
    planArgs({
      data: ['s3://b/k'],
      architecture: 'linear',
      hyperparameters: { epochs: 2, learningRate: 0.01 },
      search: { mode: 'random', space: { batchSize: [8, 16] }, trials: 2, seed: 5 },
    }),
    [
      '--run-data',
      's3://b/k',
      '--arch',
      'linear',
      '--epochs',
      '2',
      '--learning-rate',
      '0.01',
      '--candidates',
      '2',
      '--search-mode',
      'random',
      '--search',
      'batchSize=8,16',
      '--search-seed',
      '5',
    ],
  );
  assert.deepEqual(planArgs(undefined), []);
});
