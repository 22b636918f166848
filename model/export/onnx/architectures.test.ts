/**
 * Every architecture mscr trains, exported to ONNX and run on ONNX Runtime (onnxruntime-node)
 * on real inputs (CIFAR-10 test images, GOOG price windows) prepared by the project's own
 * loaders and preprocessing: the outputs must match TF.js's (wasm backend) within 1e-4.
 * cifar10-cnn is trained and published through the real pipeline and exported from the
 * version's files; the others are exported after brief training or with random weights.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { modelFromFiles } from '../../../connectors/ms/artifacts.ts';
import { openStore } from '../../../connectors/store/index.ts';
import { initBackend } from '../../../runtime/backend/index.ts';
import { sharedData } from '../../../tests/shared-data.ts';
import { getArchitecture } from '../../architectures/index.ts';
import { imageClassification } from '../../pipeline/image-classification.ts';
import { trainModel } from '../../pipeline/index.ts';
import { seriesForecast } from '../../pipeline/series-forecast.ts';
import { decodeModel } from './graph-builder.ts';
import {
  exportLayersModelToOnnx,
  exportModelFilesToOnnx,
  ONNX_OPSET,
  onnxArtifactName,
  signatureNames,
} from './index.ts';
import { compareWithTfjs, randomizeWeights, runOnnx } from './testing.ts';

const TOLERANCE = 1e-4;
let dir: string;
let images: tf.Tensor;
let windows: tf.Tensor;
let seriesTrain: { x: tf.Tensor; y: tf.Tensor };

before(async () => {
  await initBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'mscr-onnx-export-'));
  // Real CIFAR-10 test images, rescaled as the image pipeline does for training.
  const prepared = await imageClassification.prepare({
    sources: [sharedData('cifar10')],
    testFraction: 0.25,
    seed: 7,
    limit: 160,
  });
  images = prepared.xTest;
  tf.dispose([prepared.xTrain, prepared.yTrain, prepared.yTest]);
  // Real GOOG windows (7 days x 5 columns, min-max scaled as the series pipeline does).
  const series = await seriesForecast.prepare({
    sources: [sharedData('stock/goog_daily.csv')],
    testFraction: 0.2,
    seed: 7,
  });
  windows = series.xTest;
  seriesTrain = { x: series.xTrain, y: series.yTrain };
  tf.dispose(series.yTest);
});

after(async () => {
  tf.dispose([images, windows, seriesTrain.x, seriesTrain.y]);
  await rm(dir, { recursive: true, force: true });
});

/** The graph's declared input/output: names, symbolic batch, static rest. */
function signature(bytes: Uint8Array) {
  const model = decodeModel(bytes);
  const dims = (v: OnnxTypes.IValueInfoProto) =>
    (v.type?.tensorType?.shape?.dim ?? []).map((d) =>
      d.dimParam ? d.dimParam : Number(d.dimValue),
    );
  return {
    opset: Number(model.opsetImport[0]?.version),
    inputs: model.graph?.input?.map((v) => ({ name: v.name, dims: dims(v) })) ?? [],
    outputs: model.graph?.output?.map((v) => ({ name: v.name, dims: dims(v) })) ?? [],
  };
}

describe('cifar10-cnn, trained and published by the pipeline', () => {
  test('exported from the version files, matches TF.js on real CIFAR-10 images, republished with model.onnx', async () => {
    const store = openStore(`file://${join(dir, 'models')}`);
    await trainModel({
      model: 'cifar10-cnn',
      data: [sharedData('cifar10/train')],
      store,
      epochs: 1,
      limit: 200,
      backend: 'wasm',
    });
    const { manifest, files } = await store.readVersion('cifar10-cnn', 1);
    const bytes = await exportModelFilesToOnnx(files, signatureNames(manifest));
    assert.equal(onnxArtifactName, 'model.onnx');

    // The served signature is unchanged: the manifest's names, NHWC, dynamic batch.
    const sig = signature(bytes);
    assert.equal(sig.opset, ONNX_OPSET);
    assert.deepEqual(sig.inputs, [{ name: 'image', dims: ['batch', 32, 32, 3] }]);
    assert.deepEqual(sig.outputs, [{ name: 'probabilities', dims: ['batch', 10] }]);

    // Held-out images with the version's own preprocessing (its manifest), not training data.
    const evaluation = await imageClassification.prepareEvaluation(manifest, {
      sources: [sharedData('cifar10')],
      limit: 48,
    });
    const model = await modelFromFiles(files);
    try {
      const batch = await compareWithTfjs(model, bytes, evaluation.x);
      assert.deepEqual(batch.onnxShape, [48, 10]);
      assert.ok(batch.maxAbsDiff < TOLERANCE, `max abs difference ${batch.maxAbsDiff}`);
      // Predictions vary across images by far more than the tolerance: the match is not vacuous.
      // (10x: after one epoch from unseeded weights the spread measured 0.0115-0.04 over 83
      // runs, so 100x the tolerance would fail now and then.)
      const spread = Math.max(...batch.tfjs) - Math.min(...batch.tfjs);
      assert.ok(spread > 10 * TOLERANCE, `probabilities spread ${spread}`);
      const rowSums = Array.from({ length: 48 }, (_, r) =>
        batch.onnx.slice(r * 10, r * 10 + 10).reduce((a, b) => a + b, 0),
      );
      for (const sum of rowSums) assert.ok(Math.abs(sum - 1) < 1e-5, `softmax row sums to ${sum}`);

      const single = evaluation.x.slice([5, 0, 0, 0], [1, -1, -1, -1]);
      const one = await compareWithTfjs(model, bytes, single);
      single.dispose();
      assert.deepEqual(one.onnxShape, [1, 10]);
      assert.ok(one.maxAbsDiff < TOLERANCE, `batch 1: max abs difference ${one.maxAbsDiff}`);

      // The publish path as the lead wires it: model.onnx as one more checksummed file of a
      // version; the store verifies it on read, and the bytes read back serve the same answers.
      const { version: _v, files: _f, createdAt: _c, schemaVersion: _s, ...draft } = manifest;
      const withOnnx = new Map(files).set(onnxArtifactName, bytes);
      const published = await store.publish(draft, withOnnx);
      assert.equal(published.version, 2);
      const entry = published.files[onnxArtifactName];
      assert.equal(entry?.size, bytes.length);
      assert.match(entry?.sha256 ?? '', /^[0-9a-f]{64}$/);
      const readBack = await store.readVersion('cifar10-cnn', 2);
      const served = await compareWithTfjs(
        model,
        readBack.files.get(onnxArtifactName) as Uint8Array,
        evaluation.x,
      );
      assert.ok(
        served.maxAbsDiff < TOLERANCE,
        `read back: max abs difference ${served.maxAbsDiff}`,
      );
    } finally {
      model.dispose();
      tf.dispose([evaluation.x, evaluation.y]);
    }
  });
});

describe('the other architectures on real inputs', () => {
  test('densenet (random weights, non-trivial batch-norm statistics) on CIFAR-10 images', async () => {
    const model = getArchitecture('densenet').build({
      task: 'image-classification',
      height: 32,
      width: 32,
      channels: 3,
      classes: 10,
    });
    randomizeWeights(model, 11);
    const bytes = exportLayersModelToOnnx(model);
    const sig = signature(bytes);
    assert.deepEqual(sig.inputs, [{ name: 'image', dims: ['batch', 32, 32, 3] }]);
    const result = await compareWithTfjs(model, bytes, images);
    assert.equal(result.onnx.length, images.shape[0] * 10);
    assert.ok(result.maxAbsDiff < TOLERANCE, `max abs difference ${result.maxAbsDiff}`);
    model.dispose();
  });

  test('densenet after a brief training step on CIFAR-10 images', async () => {
    const model = getArchitecture('densenet').build({
      task: 'image-classification',
      height: 32,
      width: 32,
      channels: 3,
      classes: 10,
    });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const x = images.slice([0, 0, 0, 0], [16, -1, -1, -1]);
    const y = tf.oneHot(
      tf.tensor1d(
        Array.from({ length: 16 }, (_, i) => i % 10),
        'int32',
      ),
      10,
    );
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
    tf.dispose([x, y]);
    const result = await compareWithTfjs(model, exportLayersModelToOnnx(model), images);
    assert.ok(result.maxAbsDiff < TOLERANCE, `max abs difference ${result.maxAbsDiff}`);
    model.dispose();
  });

  for (const name of ['stock-lstm', 'linear']) {
    test(`${name} trained briefly on GOOG windows`, async () => {
      const [, window, features] = windows.shape as [number, number, number];
      const model = getArchitecture(name).build({ task: 'series-forecast', window, features });
      model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
      await model.fit(seriesTrain.x, seriesTrain.y, { epochs: 3, batchSize: 32, verbose: 0 });
      const bytes = exportLayersModelToOnnx(model, {
        inputNames: ['window'],
        outputNames: ['forecast'],
      });
      const sig = signature(bytes);
      assert.deepEqual(sig.inputs, [{ name: 'window', dims: ['batch', window, features] }]);
      assert.deepEqual(sig.outputs, [{ name: 'forecast', dims: ['batch', 1] }]);
      const result = await compareWithTfjs(model, bytes, windows);
      assert.deepEqual(result.onnxShape, [windows.shape[0], 1]);
      assert.ok(result.maxAbsDiff < TOLERANCE, `max abs difference ${result.maxAbsDiff}`);
      // Forecasts vary with the window: a constant output would make the match meaningless.
      assert.ok(Math.max(...result.onnx) - Math.min(...result.onnx) > 1e-3);
      model.dispose();
    });
  }

  test('an exported stock-lstm gives the same answer for a window alone as inside a batch', async () => {
    const [, window, features] = windows.shape as [number, number, number];
    const model = getArchitecture('stock-lstm').build({
      task: 'series-forecast',
      window,
      features,
    });
    randomizeWeights(model, 5);
    const bytes = exportLayersModelToOnnx(model);
    const all = await runOnnx(bytes, windows);
    const third = windows.slice([3, 0, 0], [1, -1, -1]);
    const alone = await runOnnx(bytes, third);
    third.dispose();
    assert.ok(Math.abs((alone.data[0] as number) - (all.data[3] as number)) < 1e-6);
    await Promise.all([all.session.release(), alone.session.release()]);
    model.dispose();
  });
});
