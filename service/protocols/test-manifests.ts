/**
 * Manifests for the protocol tests: the shapes `mscr train` writes for its two real tasks
 * (a CIFAR-10 CNN and the GOOG stock forecaster), the model of the Open Inference Protocol's
 * own example request, and a two-input model. Test support only.
 */
import type { ModelManifest, TensorSpec } from '../../connectors/ms/manifest.ts';

const base: Omit<ModelManifest, 'name' | 'task' | 'inputs' | 'outputs' | 'preprocessing'> = {
  schemaVersion: 1,
  version: 1,
  framework: { name: 'tfjs', version: '4.22.0', format: 'layers-model' },
  architecture: 'test',
  metrics: {},
  training: {
    epochs: 1,
    batchSize: 32,
    trainSamples: 1,
    testSamples: 1,
    backend: 'wasm',
    durationMs: 1,
  },
  data: { fingerprint: '0'.repeat(64), sources: [] },
  createdAt: '2024-01-01T00:00:00.000Z',
  files: { 'model.json': { sha256: '0'.repeat(64), size: 1 } },
};

export const CIFAR_LABELS = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

export const cifarManifest: ModelManifest = {
  ...base,
  name: 'cifar10-cnn',
  task: 'image-classification',
  architecture: 'cifar10-cnn',
  inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 32, 32, 3] }],
  outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 10] }],
  labels: CIFAR_LABELS,
  preprocessing: {
    kind: 'image',
    height: 32,
    width: 32,
    channels: 3,
    normalization: { type: 'rescale' },
  },
};

export const GOOG_COLUMNS = ['Open', 'High', 'Low', 'Volume', 'Close'];

export const stockManifest: ModelManifest = {
  ...base,
  name: 'goog-lstm',
  task: 'series-forecast',
  architecture: 'stock-lstm',
  inputs: [{ name: 'window', dtype: 'float32', shape: [-1, 7, 5] }],
  outputs: [{ name: 'forecast', dtype: 'float32', shape: [-1, 1] }],
  preprocessing: {
    kind: 'series',
    columns: GOOG_COLUMNS,
    target: 'Close',
    window: 7,
    scaler: {
      type: 'minmax',
      min: [494.652, 495.978, 487.562, 7900, 492.552],
      max: [837.81, 841.95, 828.35, 11164900, 835.67],
    },
  },
};

/** The model the spec's example request is written for: input0 [2, 2], input1 [3], output0 [3, 2]. */
export const specExampleManifest: ModelManifest = {
  ...base,
  name: 'mymodel',
  task: 'regression',
  inputs: [
    { name: 'input0', dtype: 'int32', shape: [2, 2] },
    { name: 'input1', dtype: 'bool', shape: [3] },
  ],
  outputs: [{ name: 'output0', dtype: 'float32', shape: [3, 2] }],
  preprocessing: {
    kind: 'tabular',
    columns: ['x'],
    target: 'x',
    scaler: { type: 'minmax', min: [0], max: [1] },
  },
};

export function manifestWith(inputs: TensorSpec[], outputs: TensorSpec[]): ModelManifest {
  return { ...specExampleManifest, name: 'custom', inputs, outputs };
}

/** Two batched inputs and two outputs. */
export const twoInputManifest = manifestWith(
  [
    { name: 'a', dtype: 'float32', shape: [-1, 2] },
    { name: 'b', dtype: 'int32', shape: [-1] },
  ],
  [
    { name: 'y', dtype: 'float32', shape: [-1, 1] },
    { name: 'z', dtype: 'float32', shape: [-1, 2] },
  ],
);
