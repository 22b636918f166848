/**
 * A retraining run that ends in a canary instead of an alias move. The trainer here is
 * scripted (a fixed candidate with fixed held-out scores, real files): what is under test is
 * the job's ending on a real local store, not training, which other tests cover.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { Candidate, CandidateTrainer } from '../../connectors/mr/index.ts';
import { createRunStore } from '../../connectors/sr/run-store.ts';
import { sampleDraft, sampleFiles } from '../../connectors/store/contract-fixtures.ts';
import { createLocalObjectStore, createModelStore } from '../../connectors/store/index.ts';
import { createRolloutStore } from '../../connectors/store/rollout.ts';
import { runRetrain } from './index.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

function scripted(accuracy: number, servingAccuracy: number): CandidateTrainer {
  return {
    train: async (): Promise<Candidate> => ({
      draft: { ...sampleDraft('toy'), metrics: { accuracy } },
      files: sampleFiles(`candidate-${accuracy}`),
      metrics: { accuracy },
      summary: 'scripted',
      fingerprint: 'f'.repeat(64),
      backend: 'wasm',
      scoreVersion: async () => ({ accuracy: servingAccuracy }),
      dispose: () => undefined,
    }),
  };
}

async function setup() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mscr-retrain-rollout-'));
  dirs.push(dir);
  const objects = createLocalObjectStore(dir);
  const store = createModelStore(objects);
  await store.publish(sampleDraft('toy'), sampleFiles('v1'), { alias: 'stable' });
  return { store, runs: createRunStore(objects), rollouts: createRolloutStore(objects) };
}

test('a run that passes the gate publishes without moving an alias and starts a canary against the version it beat', async () => {
  const { store, runs, rollouts } = await setup();
  const run = await runRetrain({
    model: 'toy',
    store,
    runs,
    trainer: scripted(0.8, 0.6),
    data: ['unused'],
    trigger: { kind: 'manual' },
    servingAlias: 'stable',
    rollout: { rollouts, mode: 'canary', weight: 10, steps: [10, 50, 100], stepEveryMs: 60_000 },
  });
  assert.equal(run.outcome, 'published');
  assert.equal(run.published?.version, 2);
  assert.equal(run.published?.alias, undefined);
  assert.deepEqual(run.rollout, { mode: 'canary', weight: 10, stable: 1, candidate: 2 });
  assert.match(run.message ?? '', /started a canary at 10 % of version 2 against 1/);
  assert.equal(await store.getAlias('toy', 'stable'), 1);
  const state = await rollouts.read('toy');
  assert.equal(state?.phase, 'running');
  assert.deepEqual(state?.steps, [10, 50, 100]);
  const [start] = await rollouts.decisions('toy');
  assert.equal(start?.decision, 'start');
  assert.match(start?.by ?? '', /^retraining run /);
  // The stored run record says so too.
  assert.deepEqual((await runs.list('toy'))[0]?.rollout, run.rollout);

  // A second run while that rollout runs: published, the rollout refused, the record says why.
  const second = await runRetrain({
    model: 'toy',
    store,
    runs,
    trainer: scripted(0.9, 0.6),
    data: ['unused'],
    trigger: { kind: 'manual' },
    servingAlias: 'stable',
    rollout: { rollouts, mode: 'canary' },
  });
  assert.equal(second.outcome, 'published');
  assert.equal(second.rollout, undefined);
  assert.match(second.message ?? '', /the rollout did not start: a rollout of toy .* is running/);
});

test('a rejected candidate starts nothing; an alias and a rollout together are refused', async () => {
  const { store, runs, rollouts } = await setup();
  const rejected = await runRetrain({
    model: 'toy',
    store,
    runs,
    trainer: scripted(0.5, 0.6),
    data: ['unused'],
    trigger: { kind: 'manual' },
    rollout: { rollouts, mode: 'shadow' },
  });
  assert.equal(rejected.outcome, 'rejected');
  assert.equal(await rollouts.read('toy'), undefined);
  await assert.rejects(
    runRetrain({
      model: 'toy',
      store,
      runs,
      trainer: scripted(0.8, 0.6),
      data: ['unused'],
      trigger: { kind: 'manual' },
      alias: 'stable',
      rollout: { rollouts, mode: 'canary' },
    }),
    /either in moving an alias or in a rollout/,
  );
});
