/**
 * The grid head's decode, worked by hand: a 2x2 grid over a 64x32 input, one confident cell,
 * and the per-image split of a batch.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMscrError } from '../../errors.ts';
import { validateManifest } from '../manifest.ts';
import { decodeDetections, gridToAnchorFree, toImagePixels } from './index.ts';

const logit = (p: number) => Math.log(p / (1 - p));

/** A [1, 2, 2, 5 + 2] output: cell (row 1, col 0) holds a class-1 box; the rest are empty. */
function oneBoxGrid(): Float32Array {
  const values = new Float32Array(2 * 2 * 7).fill(-8);
  const at = (1 * 2 + 0) * 7;
  values.set([logit(0.9), logit(0.5), logit(0.25), logit(0.5), logit(0.25), 0, Math.log(3)], at);
  return values;
}

test('a cell decodes to its box in input pixels and objectness x softmax scores', () => {
  const { values, shape } = gridToAnchorFree(oneBoxGrid(), [1, 2, 2, 7], 2, {
    width: 64,
    height: 32,
  });
  assert.deepEqual(shape, [1, 6, 4]);
  const cell = 2; // row 1, col 0
  // centre x: (0 + 0.5) x 32 px per cell; centre y: (1 + 0.25) x 16 px per cell
  assert.ok(Math.abs((values[cell] as number) - 16) < 1e-4);
  assert.ok(Math.abs((values[4 + cell] as number) - 20) < 1e-4);
  assert.ok(Math.abs((values[8 + cell] as number) - 32) < 1e-4); // 0.5 x 64
  assert.ok(Math.abs((values[12 + cell] as number) - 8) < 1e-4); // 0.25 x 32
  // softmax([0, ln 3]) = [0.25, 0.75], times objectness 0.9
  assert.ok(Math.abs((values[16 + cell] as number) - 0.225) < 1e-5);
  assert.ok(Math.abs((values[20 + cell] as number) - 0.675) < 1e-5);
});

test('decodeDetections splits a batch per image and keeps only confident boxes', () => {
  const empty = new Float32Array(28).fill(-8);
  const batch = new Float32Array([...oneBoxGrid(), ...empty]);
  const images = decodeDetections({ layout: 'grid' }, batch, [2, 2, 2, 7], {
    input: { width: 64, height: 32 },
    classes: 2,
  });
  assert.equal(images.length, 2);
  assert.equal(images[1]?.length, 0);
  const [first] = images[0] ?? [];
  assert.equal(first?.classIndex, 1);
  assert.ok(Math.abs((first?.score ?? 0) - 0.675) < 1e-5);
  const box = first?.box ?? [];
  [0, 16, 32, 8].forEach((expected, i) => assert.ok(Math.abs((box[i] ?? NaN) - expected) < 1e-4));
  // class 0 scores 0.225 <= a 0.3 threshold; the request's threshold overrides the spec's
  const strict = decodeDetections({ layout: 'grid', scoreThreshold: 0.1 }, batch, [2, 2, 2, 7], {
    input: { width: 64, height: 32 },
    classes: 2,
    scoreThreshold: 0.7,
  });
  assert.equal(strict[0]?.length, 0);
});

test('boxes map to the posted image per axis and are clipped to it', () => {
  const [mapped] = toImagePixels(
    [{ box: [-4, 8, 40, 16], classIndex: 0, score: 0.9 }],
    { width: 64, height: 32 },
    { width: 128, height: 320 },
  );
  assert.deepEqual(mapped?.box, [0, 80, 72, 160]);
});

test('a grid output of the wrong shape is refused with the shape it needs', () => {
  assert.throws(
    () => gridToAnchorFree(new Float32Array(24), [1, 2, 2, 6], 2, { width: 8, height: 8 }),
    (e: unknown) => isMscrError(e, 'bad_request') && /\[1, rows, cols, 7\]/.test(e.message),
  );
});

test('a manifest with a bad detection field is refused naming each problem', () => {
  const manifest = {
    schemaVersion: 1,
    name: 'objects',
    version: 1,
    framework: { name: 'tfjs', version: '4.22.0', format: 'layers-model' },
    task: 'object-detection',
    architecture: 'grid-detector',
    inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 64, 64, 3] }],
    outputs: [{ name: 'grid', dtype: 'float32', shape: [-1, 8, 8, 8] }],
    labels: ['circle', 'square', 'triangle'],
    preprocessing: {
      kind: 'image',
      height: 64,
      width: 64,
      channels: 3,
      normalization: { type: 'rescale' },
    },
    detection: { layout: 'diagonal', scoreThreshold: 2, maxDetections: 0 },
    metrics: {},
    training: {},
    data: { fingerprint: 'f', sources: [] },
    createdAt: new Date(0).toISOString(),
    files: { 'model.json': { sha256: '0'.repeat(64), size: 1 } },
  };
  assert.throws(
    () => validateManifest(manifest),
    (e: unknown) =>
      isMscrError(e, 'integrity') &&
      /detection\.layout/.test(e.message) &&
      /detection\.scoreThreshold/.test(e.message) &&
      /detection\.maxDetections/.test(e.message),
  );
  assert.doesNotThrow(() =>
    validateManifest({ ...manifest, detection: { layout: 'grid', scoreThreshold: 0.3 } }),
  );
});
