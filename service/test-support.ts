/**
 * Test support for the Service layer: real TF.js models published to a real local store,
 * and a running service on a free loopback port. (The Service may not import the Model
 * layer, so the tiny models are built here with tf.layers directly.)
 */
import * as tf from '@tensorflow/tfjs';
import type { ManifestDraft, ModelManifest } from '../connectors/ms/manifest.ts';
import { modelToFiles } from '../connectors/ms/artifacts.ts';
import type { ModelStore } from '../connectors/store/index.ts';
import { initBackend } from '../runtime/backend/index.ts';
import { resolveConfig, type ConfigText } from './config.ts';
import { createService, type Service } from './server.ts';
import { createLogger } from './observability/log.ts';

export const TOY_LABELS = ['low', 'high'];

/**
 * A 4-feature, 2-class classifier whose weights are set, not trained: class `favour` always
 * wins by a margin, so responses tell which version answered.
 */
export async function publishToyClassifier(
  store: ModelStore,
  name: string,
  favour: 0 | 1,
): Promise<ModelManifest> {
  await initBackend('wasm');
  const model = tf.sequential();
  model.add(
    tf.layers.dense({ inputShape: [4], units: 2, activation: 'softmax', name: 'probabilities' }),
  );
  const bias = favour === 0 ? [2, -2] : [-2, 2];
  model.setWeights([tf.zeros([4, 2]), tf.tensor1d(bias)]);
  const files = await modelToFiles(model);
  model.dispose();
  const draft: ManifestDraft = {
    name,
    framework: { name: 'tfjs', version: tf.version.tfjs, format: 'layers-model' },
    task: 'regression',
    architecture: 'toy-dense',
    inputs: [{ name: 'features', dtype: 'float32', shape: [-1, 4] }],
    outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 2] }],
    labels: TOY_LABELS,
    preprocessing: {
      kind: 'tabular',
      columns: ['a', 'b', 'c', 'd'],
      target: 'a',
      scaler: { type: 'minmax', min: [0, 0, 0, 0], max: [1, 1, 1, 1] },
    },
    metrics: { accuracy: favour === 1 ? 0.9 : 0.5 },
    training: {
      epochs: 0,
      batchSize: 1,
      trainSamples: 0,
      testSamples: 0,
      backend: 'wasm',
      durationMs: 0,
    },
    data: { fingerprint: '0'.repeat(64), sources: ['test'] },
  };
  return store.publish(draft, files);
}

export async function startService(
  store: string,
  overrides: ConfigText = {},
): Promise<{ service: Service; url: string }> {
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
  const service = await createService(config, { logger: createLogger('silent') });
  const { url } = await service.start();
  return { service, url };
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
