import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from './index.ts';
import {
  CONV2D_BACKPROP_FILTER,
  conv2dBackpropFilterWasmConfig,
  registerWasmConv2DBackpropFilter,
} from './conv2d-backprop-filter.ts';

type Shape4 = [number, number, number, number];
type Pad =
  | 'same'
  | 'valid'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];

/** Deterministic inputs, identical on every backend. */
function random(seed: number, size: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 32 - 0.5;
  }
  return out;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** max |a - b| relative to max |b|. */
function relativeDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let magnitude = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] ?? NaN) - (expected[i] ?? NaN)));
    magnitude = Math.max(magnitude, Math.abs(expected[i] ?? NaN));
  }
  return diff / Math.max(magnitude, 1e-12);
}

interface Case {
  name: string;
  x: Shape4;
  w: Shape4;
  strides: number | [number, number];
  pad: Pad;
}

const cases: Case[] = [
  { name: '3x3 stride 1 same, odd 7x9', x: [2, 7, 9, 3], w: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: '3x3 stride 2 same, odd 7x9', x: [2, 7, 9, 3], w: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { name: '3x3 stride 1 valid', x: [3, 7, 9, 2], w: [3, 3, 2, 5], strides: 1, pad: 'valid' },
  { name: '5x5 stride 2 valid', x: [3, 9, 7, 2], w: [5, 5, 2, 3], strides: 2, pad: 'valid' },
  { name: '5x5 stride 1 same, batch 4', x: [4, 8, 8, 3], w: [5, 5, 3, 8], strides: 1, pad: 'same' },
  { name: '1x1 stride 1 valid', x: [2, 8, 8, 4], w: [1, 1, 4, 5], strides: 1, pad: 'valid' },
  { name: '1x1 stride 2 same, odd 7x9', x: [2, 7, 9, 4], w: [1, 1, 4, 5], strides: 2, pad: 'same' },
  {
    name: '1x1 stride 2 valid, even 8x6 (cropped)',
    x: [2, 8, 6, 4],
    w: [1, 1, 4, 3],
    strides: 2,
    pad: 'valid',
  },
  {
    name: '1x1 strides [1, 3] numeric pad 1',
    x: [2, 5, 7, 3],
    w: [1, 1, 3, 4],
    strides: [1, 3],
    pad: 1,
  },
  { name: '3x3 stride 1 numeric pad 1', x: [2, 7, 9, 3], w: [3, 3, 3, 2], strides: 1, pad: 1 },
  { name: '3x3 stride 2 numeric pad 2', x: [2, 7, 9, 3], w: [3, 3, 3, 2], strides: 2, pad: 2 },
  {
    name: '5x5 strides [2, 1] same, single channel',
    x: [1, 9, 7, 1],
    w: [5, 5, 1, 6],
    strides: [2, 1],
    pad: 'same',
  },
  {
    name: '2x2 stride 3 valid (stride > kernel)',
    x: [2, 10, 11, 2],
    w: [2, 2, 2, 3],
    strides: 3,
    pad: 'valid',
  },
  { name: 'batch 5 > Cout 2', x: [5, 6, 6, 3], w: [3, 3, 3, 2], strides: 1, pad: 'same' },
  {
    name: '3x3 stride 2 explicit asymmetric pads',
    x: [2, 7, 9, 3],
    w: [3, 3, 3, 2],
    strides: 2,
    pad: [
      [0, 0],
      [1, 2],
      [0, 3],
      [0, 0],
    ],
  },
];

/** d/dw sum(conv2d(x, w) * r) on the current backend: exercises Conv2DBackpropFilter only. */
function filterGradient(c: Case, seed: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(random(seed, size(c.x)), c.x);
    const w = tf.tensor4d(random(seed + 1, size(c.w)), c.w);
    const y = tf.conv2d(x, w, c.strides, c.pad);
    const r = tf.tensor(random(seed + 2, size(y.shape)), y.shape);
    const dw = tf.grad((filter: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(x, filter as tf.Tensor4D, c.strides, c.pad), r)),
    )(w);
    return dw.dataSync() as Float32Array;
  });
}

async function onBackend<T>(name: 'cpu' | 'wasm', fn: () => T): Promise<T> {
  assert.equal(await tf.setBackend(name), true);
  return fn();
}

describe('Conv2DBackpropFilter on wasm', () => {
  before(async () => {
    delete process.env.MSCR_BACKEND;
    await initBackend('auto');
  });

  test("initBackend('auto') picks wasm here, saying tfjs-node is absent", async () => {
    const info = await initBackend('auto');
    assert.equal(info.kind, 'wasm');
    assert.equal(info.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.match(info.reason, /tfjs-node/);
    assert.match(info.reason, /not installed|failed to load/);
    assert.equal(info.threads, 1);
    assert.equal(info.simd, true);
  });

  test('registration is idempotent and leaves other backends alone', () => {
    const cpuKernel = tf.getKernel(CONV2D_BACKPROP_FILTER, 'cpu');
    assert.equal(registerWasmConv2DBackpropFilter(), false);
    assert.equal(registerWasmConv2DBackpropFilter(), false);
    assert.equal(tf.getKernel(CONV2D_BACKPROP_FILTER, 'wasm'), conv2dBackpropFilterWasmConfig);
    assert.equal(tf.getKernel(CONV2D_BACKPROP_FILTER, 'cpu'), cpuKernel);
    assert.notEqual(cpuKernel.kernelFunc, conv2dBackpropFilterWasmConfig.kernelFunc);
  });

  for (const [index, c] of cases.entries()) {
    test(`tf.grad matches cpu: ${c.name}`, async () => {
      const seed = 1000 * (index + 1);
      const expected = await onBackend('cpu', () => filterGradient(c, seed));
      const actual = await onBackend('wasm', () => filterGradient(c, seed));
      const diff = relativeDiff(actual, expected);
      assert.ok(diff < 1e-4, `relative max abs diff ${diff}`);
    });
  }

  /** Direct kernel calls for what tf.conv2d's gradient cannot reach on wasm. */
  const direct: { name: string; x: Shape4; attrs: Record<string, unknown> }[] = [
    {
      name: 'NCHW (transposed in the kernel)',
      x: [2, 3, 7, 9],
      attrs: { strides: [2, 1], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 3, 4] },
    },
    {
      name: 'NCHW explicit pads',
      x: [2, 3, 7, 9],
      attrs: {
        strides: 2,
        pad: [
          [0, 0],
          [0, 0],
          [2, 1],
          [1, 0],
        ],
        dataFormat: 'NCHW',
        filterShape: [3, 3, 3, 2],
      },
    },
    {
      name: 'NCHW 1x1 stride 2',
      x: [3, 4, 8, 7],
      attrs: { strides: 2, pad: 'valid', dataFormat: 'NCHW', filterShape: [1, 1, 4, 2] },
    },
    {
      name: "numeric pad with dimRoundingMode 'ceil'",
      x: [2, 8, 8, 3],
      attrs: {
        strides: 2,
        pad: 1,
        dataFormat: 'NHWC',
        dimRoundingMode: 'ceil',
        filterShape: [3, 3, 3, 2],
      },
    },
    {
      name: 'pad larger than the kernel',
      x: [1, 3, 4, 2],
      attrs: { strides: 3, pad: 4, dataFormat: 'NHWC', filterShape: [2, 2, 2, 3] },
    },
  ];
  for (const [index, c] of direct.entries()) {
    test(`kernel matches cpu: ${c.name}`, async () => {
      const attrs = c.attrs as unknown as {
        strides: number | [number, number];
        pad: Pad;
        dimRoundingMode?: 'ceil';
        dataFormat: 'NHWC' | 'NCHW';
        filterShape: Shape4;
      };
      const info = tf.backend_util.computeConv2DInfo(
        c.x,
        attrs.filterShape,
        attrs.strides,
        1,
        attrs.pad,
        attrs.dimRoundingMode,
        false,
        attrs.dataFormat === 'NCHW' ? 'channelsFirst' : 'channelsLast',
      );
      const dyShape = info.outShape; // in the given data format
      const seed = 7000 + index;
      const run = (): Float32Array =>
        tf.tidy(() => {
          const x = tf.tensor(random(seed, size(c.x)), c.x);
          const dy = tf.tensor(random(seed + 1, size(dyShape)), dyShape);
          const dw = tf
            .engine()
            .runKernel(CONV2D_BACKPROP_FILTER, { x, dy }, c.attrs as tf.NamedAttrMap) as tf.Tensor;
          assert.deepEqual(dw.shape, attrs.filterShape);
          return dw.dataSync() as Float32Array;
        });
      const expected = await onBackend('cpu', run);
      const actual = await onBackend('wasm', run);
      const diff = relativeDiff(actual, expected);
      assert.ok(diff < 1e-4, `relative max abs diff ${diff}`);
    });
  }

  test('the wasm kernel really runs, and leaks no tensors or wasm buffers', async () => {
    await tf.setBackend('wasm');
    const c = cases[1]!;
    filterGradient(c, 1); // warm up (first-call allocations)
    const engineBefore = tf.memory().numTensors;
    const backendBefore = tf.backend().numDataIds();
    const profile = await tf.profile(() => filterGradient(c, 1));
    assert.ok(profile.kernelNames.includes(CONV2D_BACKPROP_FILTER), profile.kernelNames.join(', '));
    filterGradient(c, 2);
    assert.equal(tf.memory().numTensors, engineBefore);
    assert.equal(tf.backend().numDataIds(), backendBefore);

    // Directly, outside tidy: only the result is new; disposing it restores the counts.
    const x = tf.tensor4d(random(3, size(c.x)), c.x);
    const dy = tf.zeros([2, 4, 5, 4]);
    const afterInputs = { tensors: tf.memory().numTensors, data: tf.backend().numDataIds() };
    const dw = tf.engine().runKernel(
      CONV2D_BACKPROP_FILTER,
      { x, dy },
      {
        strides: 2,
        pad: 'same',
        dataFormat: 'NHWC',
        filterShape: c.w,
      },
    ) as tf.Tensor;
    assert.equal(tf.memory().numTensors, afterInputs.tensors + 1);
    assert.equal(tf.backend().numDataIds(), afterInputs.data + 1);
    tf.dispose([dw, x, dy]);
    assert.equal(tf.memory().numTensors, engineBefore);
    assert.equal(tf.backend().numDataIds(), backendBefore);
  });

  test('a tf.layers convnet trains with model.fit on wasm', async () => {
    await tf.setBackend('wasm');
    const tensorsBefore = tf.memory().numTensors;
    const optimizer = tf.train.adam(0.01);
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [9, 9, 2],
          filters: 6,
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          activation: 'relu',
        }),
        tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'valid', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 1 }),
      ],
    });
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const xs = tf.tensor4d(random(11, 16 * 9 * 9 * 2), [16, 9, 9, 2]);
    const ys = tf.tensor2d(random(12, 16), [16, 1]);
    const history = await model.fit(xs, ys, {
      epochs: 8,
      batchSize: 8,
      shuffle: false,
      verbose: 0,
    });
    const losses = history.history.loss as number[];
    assert.equal(losses.length, 8);
    assert.ok(losses.every(Number.isFinite), losses.join(', '));
    assert.ok(
      losses[losses.length - 1]! < losses[0]!,
      `loss did not decrease: ${losses.join(', ')}`,
    );
    tf.dispose([xs, ys]);
    model.dispose();
    optimizer.dispose();
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });

  test('rejects non-float32 inputs with a clear error', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 3, 3, 1], 'int32');
    const dy = tf.zeros([1, 3, 3, 1], 'int32');
    assert.throws(
      () =>
        tf
          .engine()
          .runKernel(
            CONV2D_BACKPROP_FILTER,
            { x, dy },
            { strides: 1, pad: 'same', filterShape: [1, 1, 1, 1] },
          ),
      /float32/,
    );
    tf.dispose([x, dy]);
  });
});
