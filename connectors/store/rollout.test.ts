import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createLocalObjectStore } from './local-store.ts';
import {
  DEFAULT_THRESHOLDS,
  createRolloutStore,
  isActive,
  validateRolloutState,
  validateSteps,
  validateThresholds,
  type RolloutState,
} from './rollout.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

async function fresh() {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mscr-rollout-'));
  dirs.push(dir);
  const objects = createLocalObjectStore(dir);
  return { dir, objects, rollouts: createRolloutStore(objects) };
}

function state(overrides: Partial<RolloutState> = {}): RolloutState {
  const at = '2026-12-03T15:00:00.000Z';
  return {
    model: 'toy',
    stable: 1,
    candidate: 2,
    mode: 'canary',
    phase: 'running',
    weight: 5,
    steps: [5, 25, 50, 100],
    step: 0,
    stepEveryMs: 600_000,
    thresholds: { ...DEFAULT_THRESHOLDS },
    startedAt: at,
    updatedAt: at,
    stepStartedAt: at,
    ...overrides,
  };
}

test('a rollout state survives a new store handle (as a restart or another replica sees it)', async () => {
  const { dir, rollouts } = await fresh();
  assert.equal(await rollouts.read('toy'), undefined);
  await rollouts.write(state());
  const again = createRolloutStore(createLocalObjectStore(dir));
  assert.deepEqual(await again.read('toy'), state());
  await again.write(state({ weight: 25, step: 1 }));
  assert.equal((await rollouts.read('toy'))?.weight, 25);
  // One file beside the aliases, no temp files left behind.
  assert.deepEqual(await fs.readdir(path.join(dir, 'toy')), ['rollout.json']);
});

test('an invalid rollout file is an integrity error naming the file and the problem', async () => {
  const { dir, objects, rollouts } = await fresh();
  await objects.put('toy/rollout.json', new TextEncoder().encode('{not json'));
  await assert.rejects(rollouts.read('toy'), (e: Error) =>
    /rollout\.json is not JSON/.test(e.message),
  );
  await objects.put(
    'toy/rollout.json',
    new TextEncoder().encode(JSON.stringify(state({ weight: 101 }))),
  );
  await assert.rejects(rollouts.read('toy'), /weight is not a percentage/);
  await objects.put(
    'toy/rollout.json',
    new TextEncoder().encode(JSON.stringify(state({ model: 'other' }))),
  );
  await assert.rejects(rollouts.read('toy'), /names model other, not toy/);
  await fs.writeFile(
    path.join(dir, 'toy', 'rollout.json'),
    JSON.stringify(state({ candidate: 1 })),
  );
  await assert.rejects(rollouts.read('toy'), /stable and candidate are the same version/);
});

test('writes are validated; hostile model names never reach the store', async () => {
  const { dir, rollouts } = await fresh();
  await assert.rejects(rollouts.write(state({ steps: [50, 25, 100] })), /steps must be/);
  await assert.rejects(rollouts.write(state({ mode: 'everything' as 'off' })), /mode is not/);
  for (const model of ['../etc', 'a/b', '', '.', 'x'.repeat(300), 'Toy\u0000']) {
    await assert.rejects(rollouts.write(state({ model })), /integrity|invalid|model/i);
    await assert.rejects(rollouts.read(model));
  }
  assert.deepEqual(await fs.readdir(dir), []);
});

test('decision records are listed newest first', async () => {
  const { rollouts } = await fresh();
  const base = {
    model: 'toy',
    by: 'controller',
    reason: 'r',
    stable: 1,
    candidate: 2,
    mode: 'canary' as const,
    weight: 5,
    figures: { psi: 0 },
  };
  await rollouts.record({ ...base, at: '2026-12-03T15:00:01.000Z', decision: 'start' });
  await rollouts.record({ ...base, at: '2026-12-03T15:00:03.000Z', decision: 'promote' });
  await rollouts.record({ ...base, at: '2026-12-03T15:00:02.000Z', decision: 'advance' });
  const listed = await rollouts.decisions('toy');
  assert.deepEqual(
    listed.map((d) => d.decision),
    ['promote', 'advance', 'start'],
  );
  assert.equal((await rollouts.decisions('toy', { limit: 1 })).length, 1);
  assert.deepEqual(listed[0]?.figures, { psi: 0 });
  await assert.rejects(
    rollouts.record({ ...base, at: 'yesterday', decision: 'hold' }),
    /timestamp/,
  );
});

test('steps, thresholds and activity', () => {
  assert.deepEqual(validateSteps([5, 25, 100]), [5, 25, 100]);
  for (const bad of [[], [5, 50], [50, 5, 100], [0, 100], [5, 5, 100], 'x', [5, 101]]) {
    assert.throws(() => validateSteps(bad), /steps must be/);
  }
  assert.equal(validateThresholds({ minRequests: 3 }).minRequests, 3);
  assert.equal(validateThresholds({}).maxPsi, DEFAULT_THRESHOLDS.maxPsi);
  assert.throws(() => validateThresholds({ minAgreement: 2 }), /fraction/);
  assert.throws(() => validateThresholds({ minRequests: 1.5 }), /integer/);
  assert.throws(() => validateThresholds({ __proto__x: 1 }), /unknown threshold/);
  assert.throws(() => validateThresholds([]), /object/);
  assert.equal(isActive(state()), true);
  assert.equal(isActive(state({ mode: 'off' })), false);
  assert.equal(isActive(state({ phase: 'promoted' })), false);
  assert.equal(isActive(undefined), false);
  assert.throws(() => validateRolloutState(null), /not a JSON object/);
});
