import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { decodeDetections } from '../../connectors/ms/detection/index.ts';
import { encodeGridTargets, gridDetectionLoss, type InputBox } from './detection-targets.ts';

const grid = { rows: 8, cols: 8, classes: 3, width: 64, height: 64 };
const logit = (p: number) => Math.log(p / (1 - p));

/** Targets as the logits a perfect network would output (objectness +-12, classes one-hot x 12). */
function perfectLogits(targets: Float32Array): Float32Array {
  const out = new Float32Array(targets.length);
  for (let at = 0; at < targets.length; at += 8) {
    const object = targets[at] === 1;
    out[at] = object ? 12 : -12;
    for (let c = 1; c < 5; c++)
      out[at + c] = logit(Math.min(1 - 1e-6, Math.max(1e-6, targets[at + c] as number)));
    for (let k = 0; k < 3; k++) out[at + 5 + k] = (targets[at + 5 + k] as number) * 12;
  }
  return out;
}

test('grid targets: the cell holding the centre gets objectness, offsets, size fractions and the class', () => {
  const boxes: InputBox[] = [
    { box: [10, 20, 12, 8], category: 2 }, // centre (16, 24): cell row 3, col 2
    { box: [40, 0, 24, 16], category: 0 }, // centre (52, 8): row 1, col 6
  ];
  const targets = encodeGridTargets([boxes, []], grid);
  assert.equal(targets.length, 2 * 8 * 8 * 8);
  const cell = (image: number, row: number, col: number) =>
    Array.from(
      targets.subarray(((image * 8 + row) * 8 + col) * 8, ((image * 8 + row) * 8 + col + 1) * 8),
    );
  assert.deepEqual(cell(0, 3, 2), [1, 0, 0, 12 / 64, 8 / 64, 0, 0, 1]);
  assert.deepEqual(cell(0, 1, 6), [1, 0.5, 0, 24 / 64, 16 / 64, 1, 0, 0]);
  const objects = targets.filter((_, i) => i % 8 === 0).reduce((a, b) => a + b, 0);
  assert.equal(objects, 2, 'only the two centre cells are positive; the empty image has none');
});

test('two centres in one cell: the larger box is kept', () => {
  const targets = encodeGridTargets(
    [
      [
        { box: [1, 1, 4, 4], category: 0 },
        { box: [0, 0, 6, 6], category: 1 },
        { box: [2, 2, 2, 2], category: 2 },
      ],
    ],
    grid,
  );
  assert.deepEqual(Array.from(targets.subarray(0, 8)), [1, 3 / 8, 3 / 8, 6 / 64, 6 / 64, 0, 1, 0]);
});

test('targets read as perfect logits decode, through the MS contract decoder, to the same boxes', () => {
  const boxes: InputBox[] = [
    { box: [3, 5, 20, 14], category: 1 },
    { box: [30, 33, 16, 28], category: 0 },
    { box: [50, 2, 12, 12], category: 2 },
  ];
  const logits = perfectLogits(encodeGridTargets([boxes], grid));
  const [decoded] = decodeDetections({ layout: 'grid' }, logits, [1, 8, 8, 8], {
    input: { width: 64, height: 64 },
    classes: 3,
  });
  assert.equal(decoded?.length, 3);
  for (const truth of boxes) {
    const found = decoded?.find((d) => d.classIndex === truth.category);
    assert.ok(found, `class ${truth.category}`);
    found.box.forEach((v, i) =>
      assert.ok(Math.abs(v - (truth.box[i] as number)) < 1e-3, `${found.box} vs ${truth.box}`),
    );
    assert.ok(found.score > 0.99);
  }
});

test('the loss: near its floor for perfect logits, larger for wrong objectness, class or size; finite gradients', () => {
  const boxes: InputBox[] = [{ box: [10, 10, 20, 20], category: 1 }];
  const targets = encodeGridTargets([boxes], grid);
  const perfect = perfectLogits(targets);
  const loss = gridDetectionLoss();
  const value = (logits: Float32Array) =>
    tf.tidy(() => {
      const out = loss(tf.tensor4d(targets, [1, 8, 8, 8]), tf.tensor4d(logits, [1, 8, 8, 8]));
      assert.deepEqual(out.shape, [1], 'one loss per image');
      return out.dataSync()[0] as number;
    });
  const best = value(perfect);
  // The floor is the entropy of the soft box targets: 5 x sum of H(t) over 4 targets.
  const entropy = (t: number) =>
    t <= 0 || t >= 1 ? 0 : -(t * Math.log(t) + (1 - t) * Math.log(1 - t));
  const at = (2 * 8 + 2) * 8;
  const floor = 5 * [1, 2, 3, 4].reduce((s, c) => s + entropy(targets[at + c] as number), 0);
  assert.ok(Math.abs(best - floor) < 0.01, `${best} vs floor ${floor}`);
  const mutate = (change: (l: Float32Array) => void) => {
    const copy = Float32Array.from(perfect);
    change(copy);
    return value(copy);
  };
  assert.ok(mutate((l) => (l[at] = -12)) > best + 5, 'missed object');
  assert.ok(mutate((l) => (l[0] = 12)) > best + 5, 'false object in an empty cell');
  assert.ok(mutate((l) => ((l[at + 5 + 1] = 0), (l[at + 5 + 2] = 12))) > best + 5, 'wrong class');
  assert.ok(mutate((l) => (l[at + 3] = 3)) > best + 1, 'wrong width');
  // A class logit in an empty cell costs nothing: only cells with objects are classified.
  assert.ok(Math.abs(mutate((l) => (l[5] = 30)) - best) < 1e-4);
  const gradient = tf.tidy(() =>
    tf
      .grad((p: tf.Tensor) => tf.sum(loss(tf.tensor4d(targets, [1, 8, 8, 8]), p)))(
        tf.zeros([1, 8, 8, 8]),
      )
      .dataSync(),
  );
  assert.ok(gradient.every(Number.isFinite));
  assert.ok(gradient.some((g) => g !== 0));
});
