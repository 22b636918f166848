import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { validateManifest } from '../../connectors/ms/manifest.ts';
import { tabularRowToInput, unscaleTarget } from '../../connectors/ms/preprocessing.ts';
import { loadNumericCsv, splitChronological, syntheticPrices } from '../data/index.ts';
import { tabularNextRow } from './index.ts';
import { sharedData } from '../../tests/shared-data.ts';

const goog = sharedData('stock/goog_daily.csv');

test('tabular: one row -> next row target, same numbers as the connector', async () => {
  const table = existsSync(goog) ? await loadNumericCsv(goog) : syntheticPrices({ days: 732 });
  const { train, test: held } = splitChronological(table, 0.2, { overlap: 1 });
  const strategy = tabularNextRow({ target: 'Close' });
  const spec = strategy.fit(train);
  assert.deepEqual(spec.columns, ['Open', 'High', 'Low', 'Volume', 'Close']);
  assert.equal(spec.target, 'Close');
  const { x, y } = strategy.transform(held, spec);
  assert.deepEqual(x.shape, [held.rows.length - 1, 5]);
  assert.deepEqual(y.shape, [held.rows.length - 1, 1]);
  const xs = x.dataSync();
  const ys = y.dataSync();
  held.rows.slice(0, -1).forEach((row, i) => {
    assert.deepEqual(xs.subarray(i * 5, (i + 1) * 5), tabularRowToInput(row, spec));
    const nextClose = (held.rows[i + 1] as number[])[4] as number;
    assert.ok(Math.abs(unscaleTarget(ys[i] as number, spec) - nextClose) < 1e-3);
  });
  tf.dispose([x, y]);

  // The spec is a valid manifest preprocessing section.
  validateManifest({
    schemaVersion: 1,
    name: 'stock-linear',
    version: 1,
    framework: { name: 'tfjs', version: tf.version.tfjs, format: 'layers-model' },
    task: 'regression',
    architecture: 'linear',
    inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 5] }],
    outputs: [{ name: 'close', dtype: 'float32', shape: [-1, 1] }],
    preprocessing: spec,
    metrics: {},
    training: {},
    data: { fingerprint: train.fingerprint, sources: train.sources },
    createdAt: new Date().toISOString(),
    files: { 'model.json': { sha256: '0'.repeat(64), size: 1 } },
  });
});
