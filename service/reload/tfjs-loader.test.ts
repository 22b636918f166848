import { test, describe, before, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { isMscrError } from '../../connectors/errors.ts';
import { WEIGHTS_FILE, modelToFiles } from '../../connectors/ms/artifacts.ts';
import type { ManifestDraft } from '../../connectors/ms/manifest.ts';
import type { ModelStore } from '../../connectors/store/index.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import { createManager } from './manager.ts';
import { createStoreSource } from './source.ts';
import { createTfjsLoader, warmUpShape } from './tfjs-loader.ts';
import type { TfjsServable } from './tfjs-loader.ts';
import { corruptFile, tempStore, waitFor } from './test-support.ts';
import type { TempStore } from './test-support.ts';

/** A regression draft for a 4 -> 3 dense model (shapes overridable to make it disagree). */
function draft(name: string, input = [-1, 4], output = [-1, 3]): ManifestDraft {
  return {
    name,
    framework: { name: 'tfjs', version: tf.version_core, format: 'layers-model' },
    task: 'regression',
    architecture: 'tiny-dense',
    inputs: [{ name: 'x', dtype: 'float32', shape: input }],
    outputs: [{ name: 'y', dtype: 'float32', shape: output }],
    preprocessing: {
      kind: 'tabular',
      columns: ['a', 'b', 'c', 'd', 'y'],
      target: 'y',
      scaler: { type: 'minmax', min: [0, 0, 0, 0, 0], max: [1, 1, 1, 1, 1] },
    },
    metrics: { rmse: 0.1 },
    training: {
      epochs: 1,
      batchSize: 1,
      trainSamples: 1,
      testSamples: 1,
      backend: 'test',
      durationMs: 0,
    },
    data: { fingerprint: '0'.repeat(64), sources: [] },
  };
}

/** A tiny dense model with weights fixed by `scale`, so two versions predict differently. */
function tinyModel(scale: number): tf.LayersModel {
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: 'softmax' })],
  });
  const kernel = tf.tensor2d(
    Array.from({ length: 12 }, (_, i) => ((i % 5) - 2) * scale),
    [4, 3],
  );
  const bias = tf.tensor1d([0.1, -0.1, 0.05]);
  model.setWeights([kernel, bias]);
  tf.dispose([kernel, bias]);
  return model;
}

const INPUT = [[0.2, 0.4, 0.6, 0.8]];

function predict(model: tf.LayersModel): number[] {
  return tf.tidy(() => Array.from((model.predict(tf.tensor2d(INPUT)) as tf.Tensor).dataSync()));
}

async function publishTiny(
  store: ModelStore,
  name: string,
  scale: number,
  shapes: { input?: number[]; output?: number[] } = {},
): Promise<number[]> {
  const model = tinyModel(scale);
  const expected = predict(model);
  await store.publish(draft(name, shapes.input, shapes.output), await modelToFiles(model));
  model.dispose();
  return expected;
}

const never = new AbortController().signal;

describe('TF.js loader', () => {
  let temp: TempStore;
  before(async () => {
    await initBackend();
  });
  afterEach(() => temp.cleanup());

  test('loads a published model, warms it up, predicts as the original; unload disposes it', async () => {
    temp = await tempStore();
    const expected = await publishTiny(temp.store, 'tiny', 0.5);
    const loader = createTfjsLoader(temp.store);
    const before = tf.memory().numTensors;
    const servable = await loader.load('tiny', 1, never);
    assert.equal(servable.manifest.version, 1);
    assert.equal(servable.manifest.name, 'tiny');
    const got = predict(servable.model);
    got.forEach((value, i) => assert.ok(Math.abs(value - (expected[i] ?? NaN)) < 1e-5));
    // Only the weights stay: warm-up tensors were disposed.
    assert.equal(tf.memory().numTensors, before + servable.model.weights.length);
    await loader.unload(servable);
    assert.equal(tf.memory().numTensors, before);
  });

  test('a weights file with a flipped byte fails the checksum check', async () => {
    temp = await tempStore();
    await publishTiny(temp.store, 'tiny', 0.5);
    await corruptFile(temp.dir, 'tiny', 1, WEIGHTS_FILE);
    const before = tf.memory().numTensors;
    await assert.rejects(createTfjsLoader(temp.store).load('tiny', 1, never), (error: unknown) => {
      assert.ok(isMscrError(error, 'integrity'));
      assert.match(error.message, /weights\.bin has sha256/);
      return true;
    });
    assert.equal(tf.memory().numTensors, before);
  });

  test('a manifest that disagrees with the model fails the warm-up and leaks nothing', async () => {
    temp = await tempStore();
    await publishTiny(temp.store, 'wide', 0.5, { input: [-1, 5] });
    await publishTiny(temp.store, 'narrow', 0.5, { output: [-1, 4] });
    const loader = createTfjsLoader(temp.store);
    const before = tf.memory().numTensors;
    await assert.rejects(loader.load('wide', 1, never), (error: unknown) => {
      assert.ok(isMscrError(error, 'integrity'));
      assert.match(error.message, /warm-up inference of version 1 of model wide failed/);
      return true;
    });
    await assert.rejects(loader.load('narrow', 1, never), (error: unknown) => {
      assert.ok(isMscrError(error, 'integrity'));
      assert.match(
        error.message,
        /output y has shape \[1,3\] for a batch of 1, the manifest says \[-1,4\]/,
      );
      return true;
    });
    assert.equal(tf.memory().numTensors, before);
  });

  test('an aborted load stops', async () => {
    temp = await tempStore();
    await publishTiny(temp.store, 'tiny', 0.5);
    const abort = new AbortController();
    abort.abort();
    await assert.rejects(
      createTfjsLoader(temp.store).load('tiny', 1, abort.signal),
      (error: unknown) => isMscrError(error, 'unavailable') && /cancelled/.test(error.message),
    );
  });

  test('warm-up shapes: batch 1 and every -1 dimension 1', () => {
    assert.deepEqual(
      warmUpShape({ name: 'x', dtype: 'float32', shape: [-1, 32, 32, 3] }),
      [1, 32, 32, 3],
    );
    assert.deepEqual(warmUpShape({ name: 'x', dtype: 'float32', shape: [8, -1, 2] }), [1, 1, 2]);
  });

  test('with a source and a manager: a new version takes over and the old model is disposed', async () => {
    temp = await tempStore();
    const expected1 = await publishTiny(temp.store, 'tiny', 0.5);
    const manager = createManager<TfjsServable>({ loader: createTfjsLoader(temp.store) });
    const source = createStoreSource({ store: temp.store, models: ['tiny'] });
    source.onDesired((state) => manager.setDesired(state));
    try {
      await source.pollOnce();
      await waitFor(() => manager.ready('tiny'), 'v1 available');
      const held = manager.acquire('tiny');
      assert.deepEqual(predict(held.servable.model), expected1);

      const expected2 = await publishTiny(temp.store, 'tiny', -0.25);
      assert.notDeepEqual(expected2, expected1);
      await source.pollOnce();
      await waitFor(() => manager.status('tiny').serving === 2, 'v2 serving');
      const fresh = manager.acquire('tiny');
      assert.deepEqual(predict(fresh.servable.model), expected2);
      fresh.release();
      // v1 still answers the request holding it.
      assert.deepEqual(predict(held.servable.model), expected1);
      held.release();
      await waitFor(
        () => manager.status('tiny').versions.find((v) => v.version === 1)?.state === 'END',
        'v1 ended',
      );
      assert.throws(() => predict(held.servable.model), /disposed/);
    } finally {
      await source.stop();
      await manager.stop();
    }
  });
});
