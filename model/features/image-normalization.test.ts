import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { validateManifest, type ImagePreprocessing } from '../../connectors/ms/manifest.ts';
import { imagePixelsToInput } from '../../connectors/ms/preprocessing.ts';
import { loadImageFolder, splitStratified, syntheticImages } from '../data/index.ts';
import {
  imageNormalizationFromName,
  oneHotLabels,
  rescale,
  standardize,
  toImageTensor,
} from './index.ts';
import { sharedData } from '../../tests/shared-data.ts';

const cifar = sharedData('cifar10/');

/** A complete manifest around a preprocessing spec, to check the spec passes validation. */
function manifestWith(preprocessing: ImagePreprocessing): unknown {
  return {
    schemaVersion: 1,
    name: 'cifar10-cnn',
    version: 1,
    framework: { name: 'tfjs', version: tf.version.tfjs, format: 'layers-model' },
    task: 'image-classification',
    architecture: 'cifar10-cnn',
    inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 32, 32, 3] }],
    outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 10] }],
    labels: ['a'],
    preprocessing,
    metrics: {},
    training: {},
    data: { fingerprint: 'x', sources: [] },
    createdAt: new Date().toISOString(),
    files: { 'model.json': { sha256: '0'.repeat(64), size: 1 } },
  };
}

describe('image normalization on the real CIFAR-10 images', () => {
  test('standardize fits per-channel statistics on the training part only', async () => {
    const data = await loadImageFolder(cifar);
    const { train, test: held } = splitStratified(data, 0.2, 1);
    const spec = standardize.fit(train);
    assert.equal(spec.normalization.type, 'standardize');
    if (spec.normalization.type !== 'standardize') return;
    const { mean, std } = spec.normalization;
    // Check against an independent tfjs computation over the training pixels.
    const [tfMean, tfStd] = tf.tidy(() => {
      const x = tf.tensor4d(train.pixels, [train.count, 32, 32, 3], 'float32').div(255);
      const moments = tf.moments(x, [0, 1, 2]);
      return [
        moments.mean.arraySync() as number[],
        moments.variance.sqrt().arraySync() as number[],
      ];
    });
    mean.forEach((m, c) => assert.ok(Math.abs(m - (tfMean[c] as number)) < 1e-4, `mean ${c}`));
    std.forEach((s, c) => assert.ok(Math.abs(s - (tfStd[c] as number)) < 1e-4, `std ${c}`));
    assert.ok(
      mean.every((m) => m > 0.3 && m < 0.6),
      `CIFAR means ${mean}`,
    );
    assert.ok(
      std.every((s) => s > 0.15 && s < 0.35),
      `CIFAR stds ${std}`,
    );
    console.log(
      `# CIFAR-10 train split mean ${mean.map((m) => m.toFixed(4))} std ${std.map((s) => s.toFixed(4))}`,
    );
    validateManifest(manifestWith(spec));

    const { x, y } = standardize.transform(held, spec);
    assert.deepEqual(x.shape, [40, 32, 32, 3]);
    assert.deepEqual(y.shape, [40, 10]);
    // The transform is exactly the connector's function (what serving runs).
    assert.deepEqual(x.dataSync(), imagePixelsToInput(held.pixels, spec));
    // ...and matches the formula computed by tfjs, within float32 rounding.
    const formula = tf.tidy(() =>
      tf
        .tensor4d(held.pixels, [40, 32, 32, 3], 'float32')
        .div(255)
        .sub(tf.tensor1d(mean))
        .div(tf.tensor1d(std)),
    );
    assert.ok(tf.tidy(() => x.sub(formula).abs().max().dataSync()[0] as number) < 1e-5);
    assert.deepEqual(Array.from(y.argMax(1).dataSync()), Array.from(held.labels));
    tf.dispose([x, y, formula]);
  });

  test('rescale divides by 255 and toImageTensor equals the connector output', async () => {
    const data = await loadImageFolder(cifar, { limit: 10 });
    const spec = imageNormalizationFromName('rescale').fit(data);
    assert.deepEqual(spec, {
      kind: 'image',
      height: 32,
      width: 32,
      channels: 3,
      normalization: { type: 'rescale' },
    });
    validateManifest(manifestWith(spec));
    const x = toImageTensor(data, spec);
    assert.equal(x.dtype, 'float32');
    const values = x.dataSync();
    assert.deepEqual(values, imagePixelsToInput(data.pixels, spec));
    assert.equal(values[5], Math.fround((data.pixels[5] as number) / 255));
    assert.ok(values.every((v) => v >= 0 && v <= 1));
    x.dispose();
  });
});

test('constant channels get std 1, mismatched sizes and unknown names are refused', () => {
  const flat = syntheticImages({ count: 4, classes: 2, height: 8, width: 8 });
  flat.pixels.fill(128);
  const spec = standardize.fit(flat);
  assert.deepEqual(spec.normalization.type === 'standardize' && spec.normalization.std, [1, 1, 1]);
  assert.throws(
    () => toImageTensor(flat, { ...spec, height: 16 }),
    /8x8x3 but the preprocessing expects 16x8x3/,
  );
  assert.throws(() => imageNormalizationFromName('whiten'), /unknown image normalization "whiten"/);
  assert.equal(rescale.name, 'rescale');
});

test('oneHotLabels', () => {
  const y = oneHotLabels(Int32Array.from([2, 0, 1]), 3);
  assert.deepEqual(y.arraySync(), [
    [0, 0, 1],
    [1, 0, 0],
    [0, 1, 0],
  ]);
  y.dispose();
  assert.throws(
    () => oneHotLabels(Int32Array.from([3]), 3),
    /label 3 of sample 0 is outside 0\.\.2/,
  );
});
