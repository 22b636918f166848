/**
 * Importing a TensorFlow.js layers-model folder as `tensorflowjs_converter` writes it
 * (`model.json` + `group1-shard1of1.bin`): the signature comes from the model itself, the
 * files are published as they are, and the served predictions equal the model's own in this
 * process. A graph-model folder is refused with the way to convert it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../runtime/backend/index.ts';
import type { Service } from '../service/server.ts';
import { postJson, startService, waitUntil } from '../service/test-support.ts';
import { runMscr } from './run-mscr.ts';

/** Writes `model` the way the converter lays out a Keras model: topology + one shard. */
async function saveLikeConverter(model: tf.LayersModel, folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData as ArrayBuffer;
      await writeFile(path.join(folder, 'group1-shard1of1.bin'), new Uint8Array(data));
      await writeFile(
        path.join(folder, 'model.json'),
        JSON.stringify({
          format: 'layers-model',
          generatedBy: 'keras v3.0.0',
          convertedBy: 'TensorFlow.js Converter v4.22.0',
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: artifacts.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}

describe('a TF.js layers-model folder, imported and served', () => {
  let dir: string;
  let service: Service;
  let url: string;
  let model: tf.Sequential;
  const rows = [
    [0.1, 0.2, 0.3, 0.4],
    [5, -1, 2, 0.5],
  ];

  before(async () => {
    await initBackend('wasm');
    dir = await mkdtemp(path.join(os.tmpdir(), 'mscr-import-tfjs-'));
    model = tf.sequential();
    model.add(tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }));
    model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    await saveLikeConverter(model, path.join(dir, 'keras'));
    await writeFile(path.join(dir, 'labels.txt'), 'setosa\nversicolor\nvirginica\n');
  });

  after(async () => {
    await service?.stop();
    model?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('imports with the signature read from model.json and serves the same predictions', async () => {
    const store = `file://${path.join(dir, 'store')}`;
    const run = await runMscr([
      'models',
      'import',
      '--store',
      store,
      '--model',
      'iris',
      '--features',
      'sl,sw,pl,pw',
      '--labels',
      path.join(dir, 'labels.txt'),
      '--alias',
      'stable',
      '--json',
      path.join(dir, 'keras'),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const manifest = JSON.parse(run.stdout) as {
      framework: { name: string };
      task: string;
      inputs: { shape: number[] }[];
      files: Record<string, unknown>;
    };
    assert.equal(manifest.framework.name, 'tfjs');
    assert.equal(manifest.task, 'tabular-classification');
    assert.deepEqual(manifest.inputs[0]?.shape, [-1, 4]);
    assert.deepEqual(Object.keys(manifest.files).sort(), ['group1-shard1of1.bin', 'model.json']);

    ({ service, url } = await startService(store, { policy: 'alias:stable' }));
    await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
    const response = await postJson(`${url}/mscr/models/iris/predict`, {
      rows: rows.map(([sl, sw, pl, pw]) => ({ sl, sw, pl, pw })),
    });
    assert.equal(response.status, 200, JSON.stringify(response.json));
    const expected = tf.tidy(() =>
      (model.predict(tf.tensor2d(rows)) as tf.Tensor).arraySync(),
    ) as number[][];
    const labels = ['setosa', 'versicolor', 'virginica'];
    (
      response.json.predictions as { label: string; probabilities: Record<string, number> }[]
    ).forEach((prediction, i) => {
      const row = expected[i] as number[];
      labels.forEach((label, c) =>
        assert.ok(Math.abs((prediction.probabilities[label] ?? NaN) - (row[c] as number)) < 1e-6),
      );
      assert.equal(prediction.label, labels[row.indexOf(Math.max(...row))]);
    });
  });

  test('a graph model, a folder without model.json and a missing shard are refused', async () => {
    const store = `file://${path.join(dir, 'bad-store')}`;
    const graph = path.join(dir, 'graph');
    await mkdir(graph);
    await writeFile(
      path.join(graph, 'model.json'),
      JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }),
    );
    const refused = await runMscr(['models', 'import', '--store', store, '--model', 'g', graph]);
    assert.equal(refused.code, 3);
    assert.match(refused.stderr, /graph model.*tf2onnx/);

    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    const none = await runMscr(['models', 'import', '--store', store, '--model', 'g', empty]);
    assert.equal(none.code, 4);
    assert.match(none.stderr, /no model.json in/);

    const partial = path.join(dir, 'partial');
    await saveLikeConverter(model, partial);
    await rm(path.join(partial, 'group1-shard1of1.bin'));
    const missing = await runMscr(['models', 'import', '--store', store, '--model', 'g', partial]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /weights file group1-shard1of1.bin, which cannot be read/);
  });
});
