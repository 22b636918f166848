import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import {
  scaleTarget,
  seriesRowsToInput,
  unscaleTarget,
} from '../../connectors/ms/preprocessing.ts';
import {
  loadNumericCsv,
  splitChronological,
  syntheticPrices,
  type NumericTable,
} from '../data/index.ts';
import { fitMinMax, makeWindows, seriesWindows } from './index.ts';
import { sharedData } from '../../tests/shared-data.ts';

const goog = sharedData('stock/goog_daily.csv');

async function prices(): Promise<NumericTable> {
  return existsSync(goog) ? loadNumericCsv(goog) : syntheticPrices({ days: 732 });
}

describe('series windows on the GOOG prices', () => {
  test('scaler fitted on the training rows only; 7-day windows -> next Close', async () => {
    const table = await prices();
    const { train, test: held } = splitChronological(table, 0.2, { overlap: 7 });
    const strategy = seriesWindows({ window: 7, target: 'Close' });
    const spec = strategy.fit(train);
    assert.equal(spec.kind, 'series');
    assert.deepEqual(spec.columns, table.columns);
    assert.equal(spec.window, 7);
    // min and max come from the training rows, not the held-out tail.
    spec.columns.forEach((_, c) => {
      const values = train.rows.map((row) => row[c] as number);
      assert.equal(spec.scaler.min[c], Math.min(...values));
      assert.equal(spec.scaler.max[c], Math.max(...values));
    });

    const trainSet = strategy.transform(train, spec);
    assert.deepEqual(trainSet.x.shape, [train.rows.length - 7, 7, 5]);
    assert.deepEqual(trainSet.y.shape, [train.rows.length - 7, 1]);
    const x = trainSet.x.dataSync();
    assert.ok(
      x.every((v) => v >= 0 && v <= 1),
      'training inputs lie in [0, 1]',
    );

    const testSet = strategy.transform(held, spec);
    const n = held.rows.length - 7; // with the overlap, every held-out row is a target once
    assert.equal(n, Math.round(table.rows.length * 0.2));
    const tx = testSet.x.dataSync();
    const ty = testSet.y.dataSync();
    for (let i = 0; i < n; i++) {
      // Each window is exactly what serving computes from the raw rows.
      const served = seriesRowsToInput(held.rows.slice(i, i + 7), spec);
      assert.deepEqual(tx.subarray(i * 35, (i + 1) * 35), served, `window ${i}`);
      const close = (held.rows[i + 7] as number[])[4] as number;
      assert.equal(ty[i], Math.fround(scaleTarget(close, spec)));
      assert.ok(
        Math.abs(unscaleTarget(ty[i] as number, spec) - close) < 1e-3,
        'target unscales to the price',
      );
    }
    if (existsSync(goog)) {
      console.log(
        `# GOOG train Close min ${spec.scaler.min[4]} max ${spec.scaler.max[4]}; test windows ${n}`,
      );
    }
    tf.dispose([trainSet.x, trainSet.y, testSet.x, testSet.y]);
  });

  test('column subset and target choice', async () => {
    const table = await prices();
    const strategy = seriesWindows({ window: 3, target: 'Open', columns: ['Close', 'Open'] });
    const spec = strategy.fit(table);
    const { x, y } = strategy.transform(table, spec);
    assert.deepEqual(x.shape, [table.rows.length - 3, 3, 2]);
    const firstOpen = (table.rows[3] as number[])[0] as number;
    assert.ok(Math.abs(unscaleTarget(y.dataSync()[0] as number, spec) - firstOpen) < 1e-3);
    tf.dispose([x, y]);
    assert.throws(
      () => seriesWindows({ target: 'Price' }).fit(table),
      /target "Price" is not one of the columns/,
    );
  });
});

test('makeWindows and fitMinMax on small rows', () => {
  const rows = [
    [0, 1],
    [0.5, 1],
    [1, 1],
    [0.25, 1],
  ];
  const { x, y } = makeWindows(rows, 2, 0);
  assert.deepEqual(x.arraySync(), [
    [
      [0, 1],
      [0.5, 1],
    ],
    [
      [0.5, 1],
      [1, 1],
    ],
  ]);
  assert.deepEqual(y.arraySync(), [[1], [0.25]]);
  tf.dispose([x, y]);
  assert.throws(() => makeWindows(rows, 4, 0), /need at least 5/);
  assert.deepEqual(
    fitMinMax([
      [3, 7],
      [1, 7],
      [2, 7],
    ]),
    { type: 'minmax', min: [1, 7], max: [3, 7] },
  );
});
