/** The rollout panel's pure parts, on the shape `GET /mscr/models/{m}/rollout` answers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rolloutRows, rolloutSummary, type RolloutView } from './src/rollout.ts';

const side = (
  requests: number,
  errorRate: number,
  p99Ms: number | null,
  accuracy: number | null,
) => ({
  requests,
  errors: Math.round(requests * errorRate),
  errorRate,
  p99Ms,
  accuracy,
  feedback: accuracy === null ? 0 : 40,
});

const view: RolloutView = {
  model: 'toy',
  rollout: {
    stable: 1,
    candidate: 2,
    mode: 'canary',
    phase: 'running',
    weight: 25,
    steps: [25, 50, 100],
    reason: 'started by cli',
  },
  decisions: [],
  live: {
    decision: 'hold',
    reason: 'too few requests to judge',
    figures: {
      stable: side(300, 0, 12.34, 0.9),
      candidate: side(80, 0.0125, null, null),
      psi: 0.0123,
      agreement: null,
    },
  },
};

test('the side-by-side rows show both versions and every figure, a dash where there is none', () => {
  assert.deepEqual(rolloutRows(view), [
    ['version', '1 (stable)', '2 (candidate)'],
    ['requests', '300', '80'],
    ['error rate', '0.0 %', '1.3 %'],
    ['p99 latency', '12.3 ms', '–'],
    ['feedback accuracy', '90.0 % (40)', '– (0)'],
    ['prediction PSI', '', '0.012'],
    ['shadow agreement', '', '–'],
  ]);
  assert.deepEqual(rolloutRows({ ...view, live: null }), []);
  assert.deepEqual(rolloutRows({ ...view, rollout: null }), []);
});

test('the summary line names the phase, the mode, the versions and what the controller would do now', () => {
  assert.equal(
    rolloutSummary(view),
    'running canary at 25 %: version 2 against 1 (started by cli). Now: hold (too few requests to judge).',
  );
  assert.equal(rolloutSummary({ ...view, rollout: null }), 'toy has no rollout.');
});
