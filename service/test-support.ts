/**
 * Test support for the Service layer: real TF.js models published to a real local store,
 * and a running service on a free loopback port. (The Service may not import the Model
 * layer, so the tiny models are built here with tf.layers directly.)
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { ManifestDraft, ModelManifest } from '../connectors/ms/manifest.ts';
import { modelToFiles } from '../connectors/ms/artifacts.ts';
import type { ModelStore } from '../connectors/store/index.ts';
import { initBackend } from '../runtime/backend/index.ts';
import { resolveConfig, type ConfigText } from './config.ts';
import { createService, type Service, type ServiceOptions } from './server.ts';
import { createLogger } from './observability/log.ts';

export const TOY_LABELS = ['low', 'high'];

/** Publishes a small TF.js model; `draft` gives what differs from the defaults. */
export async function publishToy(
  store: ModelStore,
  model: tf.Sequential,
  draft: Pick<ManifestDraft, 'name' | 'task' | 'inputs' | 'outputs' | 'preprocessing'> &
    Partial<ManifestDraft>,
): Promise<ModelManifest> {
  const files = await modelToFiles(model);
  model.dispose();
  return store.publish(
    {
      framework: { name: 'tfjs', version: tf.version.tfjs, format: 'layers-model' },
      architecture: 'toy-dense',
      metrics: {},
      training: {
        epochs: 0,
        batchSize: 1,
        trainSamples: 0,
        testSamples: 0,
        backend: 'wasm',
        durationMs: 0,
      },
      data: { fingerprint: '0'.repeat(64), sources: ['test'] },
      ...draft,
    },
    files,
  );
}

/** The manifest of the toy classifier below: 4 features in, 2 class probabilities out. */
export function toyClassifierDraft(
  name: string,
): Pick<ManifestDraft, 'name' | 'task' | 'inputs' | 'outputs' | 'preprocessing' | 'labels'> {
  return {
    name,
    task: 'regression',
    inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 4] }],
    outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 2] }],
    labels: TOY_LABELS,
    preprocessing: {
      kind: 'tabular',
      columns: ['a', 'b', 'c', 'd'],
      target: 'a',
      scaler: { type: 'minmax', min: [0, 0, 0, 0], max: [1, 1, 1, 1] },
    },
  };
}

/**
 * A 4-feature, 2-class classifier whose weights are set, not trained: class `favour` always
 * wins by `margin` (default 2), so responses tell which version answered. Equal arguments
 * give byte-identical weights; another margin gives other bytes.
 */
export async function publishToyClassifier(
  store: ModelStore,
  name: string,
  favour: 0 | 1,
  margin = 2,
  extra: Partial<ManifestDraft> = {},
): Promise<ModelManifest> {
  await initBackend('wasm');
  const model = tf.sequential();
  model.add(
    tf.layers.dense({ inputShape: [4], units: 2, activation: 'softmax', name: 'probabilities' }),
  );
  const bias = favour === 0 ? [margin, -margin] : [-margin, margin];
  model.setWeights([tf.zeros([4, 2]), tf.tensor1d(bias)]);
  return publishToy(store, model, {
    ...toyClassifierDraft(name),
    metrics: { accuracy: favour === 1 ? 0.9 : 0.5 },
    ...extra,
  });
}

/**
 * A series forecaster over a 3-day window of `Open,Close` whose output is always the middle
 * of the Close scaler: 0.5 scaled, 150 in the data's units (`Close` spans 100..200).
 */
export async function publishToyForecaster(store: ModelStore, name: string) {
  await initBackend('wasm');
  const model = tf.sequential();
  model.add(tf.layers.flatten({ inputShape: [3, 2] }));
  model.add(tf.layers.dense({ units: 1, name: 'forecast' }));
  model.setWeights([tf.zeros([6, 1]), tf.tensor1d([0.5])]);
  return publishToy(store, model, {
    name,
    task: 'series-forecast',
    inputs: [{ name: 'window', dtype: 'float32', shape: [-1, 3, 2] }],
    outputs: [{ name: 'forecast', dtype: 'float32', shape: [-1, 1] }],
    preprocessing: {
      kind: 'series',
      columns: ['Open', 'Close'],
      target: 'Close',
      window: 3,
      scaler: { type: 'minmax', min: [100, 100], max: [200, 200] },
    },
    reference: { predictionMean: 150, predictionStd: 1 },
  });
}

/** An 8x8 RGB image classifier over `cat`/`dog` that always answers `cat` (0.88). */
export async function publishToyImageClassifier(store: ModelStore, name: string) {
  await initBackend('wasm');
  const model = tf.sequential();
  model.add(tf.layers.flatten({ inputShape: [8, 8, 3] }));
  model.add(tf.layers.dense({ units: 2, activation: 'softmax', name: 'probabilities' }));
  model.setWeights([tf.zeros([192, 2]), tf.tensor1d([1, -1])]);
  return publishToy(store, model, {
    name,
    task: 'image-classification',
    inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 8, 8, 3] }],
    outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 2] }],
    labels: ['cat', 'dog'],
    preprocessing: {
      kind: 'image',
      height: 8,
      width: 8,
      channels: 3,
      normalization: { type: 'rescale' },
    },
    reference: {
      classFrequencies: [0.5, 0.5],
      confidenceHistogram: [0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
    },
  });
}

export async function startService(
  store: string,
  overrides: ConfigText = {},
  options: ServiceOptions = {},
): Promise<{ service: Service; url: string; grpcPort?: number }> {
  const config = resolveConfig({
    store,
    port: '0',
    host: '127.0.0.1',
    workers: '1',
    pollInterval: '0.1',
    logLevel: 'silent',
    backend: 'wasm',
    ...overrides,
  });
  const service = await createService(config, { logger: createLogger('silent'), ...options });
  const { url, grpcPort } = await service.start();
  return { service, url, ...(grpcPort !== undefined ? { grpcPort } : {}) };
}

export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** A V2 infer body for the toy classifier: `rows` rows of four 0.5s. */
export function toyInfer(rows = 1): Record<string, unknown> {
  return {
    id: 'r1',
    inputs: [
      { name: 'features', shape: [rows, 4], datatype: 'FP32', data: new Array(rows * 4).fill(0.5) },
    ],
  };
}

/**
 * The zero-failure hot reload check, for any store: six clients post to `model` without
 * pause, `publish` puts a new version in the store, and every response must be a 200, from
 * the old version before the switch and from `expected` after it. Returns the versions seen.
 */
export async function checkReloadUnderLoad(
  url: string,
  model: string,
  publish: () => Promise<unknown>,
  expected: string,
): Promise<string[]> {
  const seen: string[] = [];
  const failures: string[] = [];
  let running = true;
  const client = async () => {
    while (running) {
      const response = await postJson(`${url}/v2/models/${model}/infer`, toyInfer());
      if (response.status !== 200)
        failures.push(`${response.status} ${JSON.stringify(response.json)}`);
      else seen.push(String(response.json.model_version));
    }
  };
  const clients = Array.from({ length: 6 }, client);
  try {
    await waitUntil(() => seen.length > 20, 'traffic on the current version');
    const before = seen.at(-1);
    await publish();
    await waitUntil(() => seen.at(-1) === expected, `responses from version ${expected}`);
    const switchedAt = seen.length;
    await waitUntil(() => seen.length > switchedAt + 30, `more traffic on version ${expected}`);
    running = false;
    await Promise.all(clients);
    assert.deepEqual(failures, []);
    const first = seen.indexOf(expected);
    assert.ok(
      seen.slice(0, first).every((v) => v === before),
      `version ${String(before)} answered before the switch`,
    );
    assert.ok(
      seen.slice(first + 10).every((v) => v === expected),
      `version ${expected} answered after the switch`,
    );
    return seen;
  } finally {
    running = false;
    await Promise.all(clients);
  }
}
