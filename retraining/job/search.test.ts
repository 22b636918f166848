import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RetrainRun } from '../../connectors/sr/index.ts';
import type { RunStore } from '../../connectors/sr/run-store.ts';
import { createProgressRecorder } from './progress.ts';
import { combinations, searchTrials } from './search.ts';

const space = { learningRate: [0.001, 0.003], batchSize: [16, 32, 64] };

test('grid: the combinations in order, the first varying slowest, cut at the budget', () => {
  assert.equal(combinations(space).length, 6);
  assert.deepEqual(searchTrials({ mode: 'grid', space, trials: 4 }), [
    { learningRate: 0.001, batchSize: 16 },
    { learningRate: 0.001, batchSize: 32 },
    { learningRate: 0.001, batchSize: 64 },
    { learningRate: 0.003, batchSize: 16 },
  ]);
  // A budget over the space trains each combination once.
  assert.equal(searchTrials({ mode: 'grid', space, trials: 50 }).length, 6);
});

test('random: distinct combinations of the space, the same for the same seed', () => {
  const a = searchTrials({ mode: 'random', space, trials: 4, seed: 9 });
  const b = searchTrials({ mode: 'random', space, trials: 4, seed: 9 });
  assert.deepEqual(a, b);
  assert.equal(a.length, 4);
  assert.equal(new Set(a.map((t) => JSON.stringify(t))).size, 4);
  const all = combinations(space).map((t) => JSON.stringify(t));
  for (const trial of a) assert.ok(all.includes(JSON.stringify(trial)));
  const others = [1, 2, 3, 4, 5].map((seed) =>
    JSON.stringify(searchTrials({ mode: 'random', space, trials: 4, seed })),
  );
  assert.ok(new Set(others).size > 1, 'seeds pick different samples');
  assert.equal(searchTrials({ mode: 'random', space, trials: 99, seed: 1 }).length, 6);
});

test('progress: numbered entries, the oldest epochs dropped over the bound, the last write last', async () => {
  const saved: RetrainRun[] = [];
  const runs = {
    save: async (run: RetrainRun) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      saved.push(run);
    },
  } as unknown as RunStore;
  const run: RetrainRun = {
    id: '20261203T181500Z-0a1b2c3d',
    model: 'm',
    trigger: { kind: 'manual' },
    startedAt: new Date().toISOString(),
    outcome: 'running',
  };
  const recorder = createProgressRecorder(run, runs, { minIntervalMs: 1, max: 10 });
  recorder.add({ type: 'state', message: 'first' });
  for (let epoch = 1; epoch <= 20; epoch++) {
    recorder.add({ type: 'epoch', trial: 1, epoch, epochs: 20, loss: 1 / epoch, metrics: {} });
  }
  recorder.add({ type: 'state', message: 'last' });
  run.outcome = 'published';
  await recorder.flush();
  assert.equal(run.progress?.length, 10);
  assert.equal(run.progressDropped, 12);
  assert.deepEqual(
    run.progress?.map((p) => p.seq),
    [1, 14, 15, 16, 17, 18, 19, 20, 21, 22],
    'the first state kept, the oldest epochs dropped',
  );
  assert.equal(saved.at(-1)?.outcome, 'published', 'no earlier snapshot lands after the final one');
});
