import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProgressEntry } from '../../../connectors/sr/train.ts';
import { lineChartSvg } from './chart.ts';
import { lossCurve, progressLines } from './training.ts';

const at = '2026-12-03T18:00:00.000Z';
const entries: ProgressEntry[] = [
  { seq: 1, at, type: 'state', message: 'trial 1/2' },
  { seq: 2, at, type: 'epoch', trial: 1, epoch: 1, epochs: 2, loss: 0.5, metrics: {} },
  { seq: 3, at, type: 'epoch', trial: 1, epoch: 2, epochs: 2, loss: 0.25, metrics: {} },
  {
    seq: 4,
    at,
    type: 'trial',
    record: {
      trial: 1,
      hyperparameters: { learningRate: 0.01 },
      metrics: { rmse: 3 },
      durationMs: 9,
    },
  },
  { seq: 5, at, type: 'epoch', trial: 2, epoch: 1, epochs: 2, loss: 0.75, metrics: {} },
];

test('the loss curve: one point per epoch over all trials in order', () => {
  assert.deepEqual(lossCurve(entries), [
    { x: 1, actual: 0.5 },
    { x: 2, actual: 0.25 },
    { x: 3, actual: 0.75 },
  ]);
  assert.deepEqual(lossCurve([]), []);
});

test('one line per finished trial, then the outcome', () => {
  assert.deepEqual(
    progressLines(entries, {
      id: '20261203T180000Z-00000000',
      model: 'm',
      trigger: { kind: 'request' },
      startedAt: at,
      outcome: 'published',
      message: 'better',
      published: { version: 2 },
    }),
    ['trial 1 {"learningRate":0.01}: rmse 3.0000', 'published: better (version 2)'],
  );
});

test('the chart draws the curve with its own legend, the second series hidden', () => {
  const svg = lineChartSvg(lossCurve(entries), {
    title: 'Training loss <run>',
    valueName: 'loss',
    xName: 'epoch',
    legend: ['training loss', ''],
    unit: 'epochs',
  });
  assert.match(svg, /<polyline class="series actual" points="[^"]+ [^"]+ [^"]+"\/>/);
  assert.match(svg, />training loss<\/text>/);
  assert.doesNotMatch(svg, /predicted/);
  assert.match(svg, /3 epochs from 1 to 3/);
  assert.match(svg, /Training loss &lt;run&gt;/);
});
