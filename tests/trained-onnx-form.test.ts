/**
 * mscr's own trained models on ONNX Runtime (issue 14): training publishes an ONNX form beside
 * the TF.js files, checked against TF.js on held-out inputs and checksummed like every file;
 * `serve --engine auto` runs it on ONNX Runtime, and its answers equal the TF.js engine's
 * on real CIFAR-10 images and GOOG windows.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { openStore, type ModelStore } from '../connectors/store/index.ts';
import { verifiedOnnxForm } from '../model/export/onnx/index.ts';
import { trainModel } from '../model/pipeline/index.ts';
import { chooseRuntime } from '../service/dataplane/engine-choice.ts';
import { startService, waitUntil } from '../service/test-support.ts';
import type { Service } from '../service/server.ts';
import { sharedData } from './shared-data.ts';

let dir: string;
let store: ModelStore;
const services: Service[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mscr-onnx-form-'));
  store = openStore(`file://${join(dir, 'models')}`);
  await trainModel({
    model: 'cifar10-cnn',
    data: [sharedData('cifar10/train')],
    store,
    epochs: 1,
    limit: 120,
    backend: 'wasm',
  });
  await trainModel({
    model: 'stock-lstm',
    data: [sharedData('stock/goog_daily.csv')],
    store,
    epochs: 2,
    backend: 'wasm',
  });
});
after(async () => {
  await Promise.all(services.map((service) => service.stop()));
  await rm(dir, { recursive: true, force: true });
});

async function serve(engine: 'tfjs' | 'onnx' | 'auto'): Promise<string> {
  const { service, url } = await startService(join(dir, 'models'), { engine });
  services.push(service);
  await waitUntil(async () => (await fetch(`${url}/v2/health/ready`)).status === 200, 'ready');
  return url;
}

describe('a trained version with its ONNX form', () => {
  test('the version lists model.onnx as a checksummed artifact; auto serves it on ONNX Runtime', async () => {
    for (const model of ['cifar10-cnn', 'stock-lstm']) {
      const manifest = await store.readManifest(model, 1);
      assert.deepEqual(manifest.artifacts?.onnx, {
        file: 'model.onnx',
        input: manifest.inputs[0]?.name,
        output: manifest.outputs[0]?.name,
      });
      assert.match(manifest.files['model.onnx']?.sha256 ?? '', /^[0-9a-f]{64}$/);
      assert.equal(chooseRuntime(manifest, 'auto').engine, 'onnx');
      assert.equal(chooseRuntime(manifest, 'tfjs').engine, 'tfjs');
      // The store verifies every file's checksum on read, the ONNX form included.
      const { files } = await store.readVersion(model, 1);
      assert.ok((files.get('model.onnx')?.length ?? 0) > 1000);
    }
  });

  test('ONNX Runtime and TF.js answer alike: classify on real images, forecast on GOOG windows', async () => {
    const [onnxUrl, tfjsUrl] = await Promise.all([serve('auto'), serve('tfjs')]);
    for (const image of ['cat_0003.jpg', 'ship_0001.jpg', 'frog_0004.jpg']) {
      const bytes = await readFile(sharedData(`cifar10/images/${image}`));
      const answers = await Promise.all(
        [onnxUrl, tfjsUrl].map(async (url) => {
          const response = await fetch(`${url}/mscr/models/cifar10-cnn/classify?top=10`, {
            method: 'POST',
            headers: { 'content-type': 'image/jpeg' },
            body: bytes,
          });
          assert.equal(response.status, 200, await response.clone().text());
          const body = (await response.json()) as {
            predictions: { label: string; score: number }[][];
          };
          return new Map(body.predictions[0]?.map((p) => [p.label, p.score]));
        }),
      );
      const [onnx, tfjs] = answers as [Map<string, number>, Map<string, number>];
      assert.equal(onnx.size, 10);
      for (const [label, score] of tfjs) {
        assert.ok(Math.abs((onnx.get(label) ?? NaN) - score) < 1e-4, `${image} ${label}`);
      }
    }
    const csv = (await readFile(sharedData('stock/goog_daily.csv'), 'utf8'))
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'))
      .slice(0, 7)
      .join('\n');
    const forecasts = await Promise.all(
      [onnxUrl, tfjsUrl].map(async (url) => {
        const response = await fetch(`${url}/mscr/models/stock-lstm/forecast?order=newest-first`, {
          method: 'POST',
          headers: { 'content-type': 'text/csv' },
          body: csv,
        });
        assert.equal(response.status, 200, await response.clone().text());
        return ((await response.json()) as { forecast: number[] }).forecast[0] as number;
      }),
    );
    // Dollars: the scaled output agrees within 1e-4, the price within a cent or so.
    assert.ok(Math.abs((forecasts[0] as number) - (forecasts[1] as number)) < 0.05, `${forecasts}`);
  });

  test('--no-onnx publishes the TF.js form only', async () => {
    const result = await trainModel({
      model: 'stock-lstm',
      data: [sharedData('stock/goog_daily.csv')],
      store,
      epochs: 1,
      backend: 'wasm',
      onnx: false,
    });
    assert.equal(result.manifest.artifacts, undefined);
    assert.equal(result.manifest.files['model.onnx'], undefined);
    assert.equal(chooseRuntime(result.manifest, 'auto').engine, 'tfjs');
  });
});

test('an ONNX form that does not reproduce TF.js is left out, with the reason', async () => {
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [4], units: 2, activation: 'softmax' }));
  const signature = {
    inputs: [{ name: 'features', dtype: 'float32' as const, shape: [-1, 4] }],
    outputs: [{ name: 'probabilities', dtype: 'float32' as const, shape: [-1, 2] }],
  };
  const sample = tf.randomNormal([8, 4]);
  try {
    const exact = await verifiedOnnxForm(model, signature, sample);
    assert.ok(exact.ok, exact.ok ? '' : exact.reason);
    const strict = await verifiedOnnxForm(model, signature, sample, { tolerance: -1 });
    assert.equal(strict.ok, false);
    assert.match(strict.ok ? '' : strict.reason, /differs from TF\.js by .* \(tolerance -1\)/);
    const none = await verifiedOnnxForm(model, signature, tf.zeros([0, 4]));
    assert.deepEqual(none, { ok: false, reason: 'no held-out rows to check the export on' });
  } finally {
    model.dispose();
    sample.dispose();
  }
});
