import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { architectureFor, getArchitecture } from './index.ts';

test('grid-detector: a 64x64 input gives an 8x8 grid of 5 + classes logits, starting with few objects', () => {
  const model = getArchitecture('grid-detector').build({
    task: 'object-detection',
    height: 64,
    width: 64,
    channels: 3,
    classes: 3,
  });
  try {
    assert.deepEqual(model.outputs[0]?.shape, [null, 8, 8, 8]);
    assert.ok(model.countParams() < 150_000, `${model.countParams()} parameters`);
    const out = tf.tidy(() => model.predict(tf.zeros([2, 64, 64, 3])) as tf.Tensor);
    assert.deepEqual(out.shape, [2, 8, 8, 8]);
    const values = out.dataSync();
    out.dispose();
    // Objectness starts near the 5 % prior (logit -2.94) on a blank image.
    assert.ok(Math.abs((values[0] as number) + 2.944) < 0.5, String(values[0]));
  } finally {
    model.dispose();
  }
  // A 96x128 input keeps the stride: a 12x16 grid.
  const wide = getArchitecture('detector').build({
    task: 'object-detection',
    height: 96,
    width: 128,
    channels: 3,
    classes: 1,
  });
  assert.deepEqual(wide.outputs[0]?.shape, [null, 12, 16, 6]);
  wide.dispose();
});

test('choosing a builder: the task default, a named one that must fit the task, the model name', () => {
  assert.equal(
    architectureFor({ task: 'object-detection', model: 'objects' }).name,
    'grid-detector',
  );
  assert.equal(architectureFor({ model: 'cifar10-cnn' }).name, 'cifar10-cnn');
  assert.equal(
    architectureFor({ name: 'densenet', task: 'image-classification', model: 'x' }).name,
    'densenet',
  );
  assert.throws(
    () => architectureFor({ name: 'cifar10-cnn', task: 'object-detection', model: 'x' }),
    /cifar10-cnn trains image-classification models, not object-detection/,
  );
  assert.throws(() => architectureFor({ task: 'raw', model: 'x' }), /cannot train raw/);
  assert.throws(
    () =>
      getArchitecture('grid-detector').build({ task: 'series-forecast', window: 7, features: 5 }),
    /detects objects; it cannot be trained on series-forecast data/,
  );
});
