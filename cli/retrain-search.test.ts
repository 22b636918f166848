/**
 * `mscr retrain --candidates N --search ...` as a user runs it: real child processes on the
 * real GOOG series (a linear forecaster, one epoch), and the flags' errors.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RetrainRun } from '../connectors/sr/index.ts';
import { openStore } from '../connectors/store/index.ts';
import { runMscr } from '../tests/run-mscr.ts';
import { sharedData } from '../tests/shared-data.ts';

const data = sharedData('stock/goog_daily.csv');
const folder = { dir: '' };
const store = () => `file://${join(folder.dir, 'models')}`;
const base = () => [
  'retrain',
  ...['--model', 'goog', '--arch', 'linear', '--store', store(), '--data', data],
];

before(async () => void (folder.dir = await mkdtemp(join(tmpdir(), 'mscr-retrain-search-'))));
after(() => rm(folder.dir, { recursive: true, force: true }));

describe('mscr retrain --candidates', () => {
  test('trains each trial, records each, gates and publishes only the best', async () => {
    const first = await runMscr([...base(), '--epochs', '1', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const result = await runMscr([
      ...base(),
      '--epochs',
      '1',
      '--candidates',
      '3',
      '--search',
      'lr=0.001,0.01',
      '--search',
      'bs=16,32',
      '--search-mode',
      'random',
      '--seed',
      '4',
      '--json',
    ]);
    assert.equal(result.code, 0, result.stderr);
    const run = JSON.parse(result.stdout) as RetrainRun;
    assert.equal(run.trials?.length, 3);
    const keys = new Set(run.trials?.map((t) => JSON.stringify(t.hyperparameters)));
    assert.equal(keys.size, 3, 'three distinct combinations');
    for (const trial of run.trials ?? []) {
      assert.deepEqual(Object.keys(trial.hyperparameters).sort(), ['batchSize', 'learningRate']);
      assert.equal(typeof trial.metrics?.rmse, 'number');
      assert.equal(typeof trial.durationMs, 'number');
    }
    const best = run.trials?.find((t) => t.best);
    const lowest = Math.min(...(run.trials ?? []).map((t) => t.metrics?.rmse ?? Infinity));
    assert.equal(best?.metrics?.rmse, lowest);
    assert.equal(run.candidate?.trial, best?.trial);
    assert.equal(run.baseline?.version, 1);
    assert.deepEqual(run.parameters?.search, {
      mode: 'random',
      space: { learningRate: [0.001, 0.01], batchSize: [16, 32] },
      trials: 3,
      seed: 4,
    });
    assert.ok(run.progress?.some((p) => p.type === 'epoch' && p.trial === 3));
    const versions = await openStore(store()).listVersions('goog');
    assert.deepEqual(versions, run.outcome === 'published' ? [1, 2] : [1]);
    if (run.outcome === 'published') {
      const manifest = await openStore(store()).readManifest('goog', 2);
      assert.equal(manifest.training.learningRate, best?.hyperparameters.learningRate);
      assert.equal(manifest.training.batchSize, best?.hyperparameters.batchSize);
    }
  });

  const bad: [string, string[], RegExp][] = [
    ['an unknown parameter', ['--search', 'dropout=0.1'], /unknown parameter "dropout"/],
    ['a bad number', ['--search', 'lr=0.1,fast'], /expected a number, got "fast"/],
    [
      'a zero budget',
      ['--candidates', '0', '--search', 'lr=0.1'],
      /--candidates: 0 is out of range/,
    ],
    ['an absurd budget', ['--candidates', '100000', '--search', 'lr=0.1'], /at most 50/],
    ['a bad mode', ['--search', 'lr=0.1', '--search-mode', 'annealing'], /expected grid or random/],
    ['candidates without a space', ['--candidates', '2'], /need a search space/],
    ['a parameter twice', ['--search', 'lr=0.1', '--search', 'learningRate=0.2'], /given twice/],
  ];
  for (const [what, args, message] of bad) {
    test(`refuses ${what} with a usage error`, async () => {
      const result = await runMscr([...base(), ...args]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
    });
  }
});
