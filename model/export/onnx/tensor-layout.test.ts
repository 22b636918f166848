/**
 * The layout arithmetic against TF.js itself, on generated cases: `permute` against
 * `tf.transpose`, `samePadding` against the output size and padding of TF.js's own 'same'
 * convolution, and the channels-first axis map. These run on TF.js's plain-JS 'cpu' backend,
 * its reference implementation: the wasm backend (tfjs-backend-wasm 4.22) answers zeros for a
 * 'same' convolution whose stride exceeds its kernel (e.g. size 12, kernel 2, stride 3), where
 * the cpu backend, TensorFlow and the ONNX export agree.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../runtime/backend/index.ts';
import { channelsFirstAxis, permute, samePadding } from './tensor-layout.ts';

before(async () => {
  await initBackend('cpu');
});

test('permute equals tf.transpose for any shape of rank 1-5 and any permutation', () => {
  const shapeAndPerm = fc
    .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 })
    .chain((shape) =>
      fc
        .shuffledSubarray(
          shape.map((_, i) => i),
          { minLength: shape.length, maxLength: shape.length },
        )
        .map((perm) => ({ shape, perm })),
    );
  fc.assert(
    fc.property(shapeAndPerm, ({ shape, perm }) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = Float32Array.from({ length: size }, (_, i) => i);
      const expected = tf.tidy(() => tf.transpose(tf.tensor(values, shape), perm).dataSync());
      assert.deepEqual(Array.from(permute(values, shape, perm)), Array.from(expected));
    }),
    { numRuns: 200 },
  );
});

test("samePadding gives TF's output size ceil(in/stride) and matches a TF.js 'same' convolution", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 2 }),
      (size, kernel, stride, dilation) => {
        // TF.js refuses strides > 1 together with dilation > 1.
        fc.pre(stride === 1 || dilation === 1);
        const { before, after } = samePadding(size, kernel, stride, dilation);
        assert.ok(before >= 0 && after - before >= 0 && after - before <= 1);
        const effective = (kernel - 1) * dilation + 1;
        const padded = Math.floor((size + before + after - effective) / stride) + 1;
        assert.equal(padded, Math.ceil(size / stride));
        // A ones kernel over a ramp: 'same' output equals 'valid' over the explicitly padded input.
        const same = tf.tidy(() => {
          const x = tf.range(1, size + 1).reshape([1, size, 1, 1]);
          const w = tf.ones([kernel, 1, 1, 1]);
          const viaSame = tf.conv2d(
            x as tf.Tensor4D,
            w as tf.Tensor4D,
            [stride, 1],
            'same',
            'NHWC',
            [dilation, 1],
          );
          const viaPads = tf.conv2d(
            tf.pad(x, [
              [0, 0],
              [before, after],
              [0, 0],
              [0, 0],
            ]) as tf.Tensor4D,
            w as tf.Tensor4D,
            [stride, 1],
            'valid',
            'NHWC',
            [dilation, 1],
          );
          return [Array.from(viaSame.dataSync()), Array.from(viaPads.dataSync())];
        });
        assert.deepEqual(same[1], same[0]);
      },
    ),
    { numRuns: 150 },
  );
});

test('channelsFirstAxis maps N, H, W, C to 0, 2, 3, 1 (negative axes too)', () => {
  assert.deepEqual(
    [0, 1, 2, 3].map((a) => channelsFirstAxis(a, 4)),
    [0, 2, 3, 1],
  );
  assert.deepEqual(
    [-4, -3, -2, -1].map((a) => channelsFirstAxis(a, 4)),
    [0, 2, 3, 1],
  );
  assert.throws(() => channelsFirstAxis(4, 4), /out of range/);
});
