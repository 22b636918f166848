/** Sample manifest drafts and files for the model store contract tests (test support only). */
import { createHash } from 'node:crypto';
import type { ManifestDraft } from '../ms/manifest.ts';

export const SAMPLE_LABELS = ['cat', 'dog', 'bird'];

/** A valid image-classification draft for `name`. */
export function sampleDraft(name: string): ManifestDraft {
  return {
    name,
    framework: { name: 'tfjs', version: '4.22.0', format: 'layers-model' },
    task: 'image-classification',
    architecture: 'cifar10-cnn',
    inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 32, 32, 3] }],
    outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, 10] }],
    labels: [...SAMPLE_LABELS],
    preprocessing: {
      kind: 'image',
      height: 32,
      width: 32,
      channels: 3,
      normalization: { type: 'rescale' },
    },
    metrics: { accuracy: 0.61, loss: 1.1 },
    training: {
      epochs: 2,
      batchSize: 32,
      trainSamples: 3000,
      testSamples: 200,
      backend: 'wasm',
      durationMs: 12345,
    },
    data: { fingerprint: 'f'.repeat(64), sources: ['cifar10/data_batch_1.bin'] },
  };
}

/** Deterministic pseudo-random bytes derived from `seed`. */
export function seededBytes(seed: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < length; offset += block.length) {
    out.set(block.subarray(0, Math.min(block.length, length - offset)), offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/** A `model.json` plus one weight shard, different for every seed. */
export function sampleFiles(seed: string, shardBytes = 4096): Map<string, Uint8Array> {
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'mscr contract test',
    seed,
    modelTopology: { class_name: 'Sequential', config: { layers: [] } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [] }],
  };
  return new Map<string, Uint8Array>([
    ['model.json', new TextEncoder().encode(JSON.stringify(modelJson))],
    ['group1-shard1of1.bin', seededBytes(seed, shardBytes)],
  ]);
}
