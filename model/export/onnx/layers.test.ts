/**
 * Layer options beyond the four architectures, each in a small model with random weights and
 * random inputs, exported and run on ONNX Runtime against TF.js (wasm): odd sizes with
 * 'same' padding and strides, dilation, even kernels, pooling windows that overhang,
 * zero padding, every activation, merges of values carried in different layouts, reshape,
 * dense on rank 3, batch normalisation on every rank, and LSTM options.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../runtime/backend/index.ts';
import { exportLayersModelToOnnx } from './index.ts';
import { compareWithTfjs, randomizeWeights, runOnnx } from './testing.ts';

const TOLERANCE = 1e-4;

before(async () => {
  await initBackend('wasm');
});

/** Exports, runs both engines on a random batch of 3 and asserts they agree. */
async function assertSameAsTfjs(model: tf.LayersModel, seed: number): Promise<void> {
  randomizeWeights(model, seed);
  const shape = [3, ...(model.inputs[0]?.shape.slice(1) as number[])];
  const x = tf.randomNormal(shape, 0, 1, 'float32', seed);
  try {
    const result = await compareWithTfjs(model, exportLayersModelToOnnx(model), x);
    assert.ok(
      result.maxAbsDiff < TOLERANCE,
      `${model.name}: max abs difference ${result.maxAbsDiff}`,
    );
    assert.ok(
      result.tfjs.some((v) => v !== 0),
      'the output is not all zeros',
    );
  } finally {
    x.dispose();
    model.dispose();
  }
}

function sequential(inputShape: number[], layers: tf.layers.Layer[]): tf.Sequential {
  const model = tf.sequential();
  layers.forEach((layer, i) => {
    if (i === 0) {
      model.add(tf.layers.inputLayer({ inputShape }));
    }
    model.add(layer);
  });
  return model;
}

describe('convolution and pooling', () => {
  test('same padding with stride 2 on odd sizes, an even kernel, dilation, no bias', async () => {
    await assertSameAsTfjs(
      sequential(
        [9, 7, 3],
        [
          tf.layers.conv2d({ filters: 4, kernelSize: 4, strides: 2, padding: 'same' }),
          tf.layers.conv2d({
            filters: 5,
            kernelSize: 3,
            dilationRate: 2,
            padding: 'same',
            useBias: false,
            activation: 'elu',
          }),
          tf.layers.conv2d({ filters: 3, kernelSize: [2, 3], strides: [1, 2], padding: 'valid' }),
          tf.layers.flatten(),
        ],
      ),
      1,
    );
  });

  test('depthwise convolution with a depth multiplier', async () => {
    await assertSameAsTfjs(
      sequential(
        [8, 8, 3],
        [
          tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same' }),
          tf.layers.flatten(),
        ],
      ),
      2,
    );
  });

  test('max and average pooling: same padding overhanging odd sizes, strides unlike the window', async () => {
    await assertSameAsTfjs(
      sequential(
        [7, 5, 2],
        [
          tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
          tf.layers.zeroPadding2d({
            padding: [
              [1, 2],
              [0, 3],
            ],
          }),
          tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' }),
          tf.layers.averagePooling2d({ poolSize: [2, 1], strides: 1, padding: 'valid' }),
          tf.layers.flatten(),
        ],
      ),
      3,
    );
  });

  test('global max and average pooling', async () => {
    const input = tf.input({ shape: [6, 5, 4] });
    const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3 }).apply(input) as tf.SymbolicTensor;
    const max = tf.layers.globalMaxPooling2d({}).apply(conv) as tf.SymbolicTensor;
    const avg = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
    const out = tf.layers.concatenate().apply([max, avg]) as tf.SymbolicTensor;
    await assertSameAsTfjs(tf.model({ inputs: input, outputs: out }), 4);
  });
});

describe('activations', () => {
  const names = [
    'relu',
    'relu6',
    'elu',
    'selu',
    'sigmoid',
    'hardSigmoid',
    'tanh',
    'softplus',
    'softsign',
    'softmax',
    'swish',
    'mish',
    'gelu',
    'gelu_new',
    'linear',
  ] as const;
  for (const activation of names) {
    test(`${activation}, fused into a convolution and after a dense layer`, async () => {
      await assertSameAsTfjs(
        sequential(
          [5, 5, 2],
          [
            // Over a conv output carried channels-first: softmax must follow the channel axis.
            tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 6, activation }),
          ],
        ),
        10,
      );
    });
  }

  test('activation layers: ReLU with a maximum, LeakyReLU, ELU, Softmax', async () => {
    await assertSameAsTfjs(
      sequential(
        [4, 5, 3],
        [
          tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
          tf.layers.reLU({ maxValue: 0.5 }),
          tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
          tf.layers.leakyReLU({ alpha: 0.1 }),
          tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
          tf.layers.elu(),
          tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
          tf.layers.softmax({ axis: -1 }),
          tf.layers.activation({ activation: 'tanh' }),
          tf.layers.flatten(),
        ],
      ),
      11,
    );
  });
});

describe('merges, reshapes and normalisation', () => {
  test('add, multiply, average, maximum, minimum of channels-first and channels-last values', async () => {
    const input = tf.input({ shape: [6, 6, 3] });
    // `input` stays channels-last in the graph; the conv outputs are channels-first.
    const a = tf.layers
      .conv2d({ filters: 3, kernelSize: 3, padding: 'same' })
      .apply(input) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ filters: 3, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    const merged = [
      tf.layers.add().apply([input, a]),
      tf.layers.multiply().apply([a, b]),
      tf.layers.average().apply([a, b, input]),
      tf.layers.maximum().apply([b, a]),
      tf.layers.minimum().apply([input, b]),
    ] as tf.SymbolicTensor[];
    // Concatenation along the height axis (Keras axis 1), not the channels.
    const joined = tf.layers.concatenate({ axis: 1 }).apply(merged) as tf.SymbolicTensor;
    const out = tf.layers.flatten().apply(joined) as tf.SymbolicTensor;
    await assertSameAsTfjs(tf.model({ inputs: input, outputs: out }), 20);
  });

  test('reshape of a conv output, dense on a rank-3 tensor, batch norm on ranks 2, 3 and 4', async () => {
    await assertSameAsTfjs(
      sequential(
        [4, 4, 3],
        [
          tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same' }),
          tf.layers.batchNormalization(),
          tf.layers.reshape({ targetShape: [16, 6] }),
          tf.layers.batchNormalization(),
          tf.layers.dense({ units: 5, activation: 'relu' }),
          tf.layers.batchNormalization({ center: false, scale: false, epsilon: 0.01 }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 7 }),
          tf.layers.batchNormalization(),
          tf.layers.dropout({ rate: 0.5 }),
          tf.layers.gaussianNoise({ stddev: 1 }),
        ],
      ),
      21,
    );
  });
});

test('a functional model with two inputs (an image and a vector), named by the caller', async () => {
  const image = tf.input({ shape: [6, 6, 2], name: 'pixels' });
  const extra = tf.input({ shape: [4], name: 'extra' });
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3 }).apply(image) as tf.SymbolicTensor;
  const flat = tf.layers.flatten().apply(conv) as tf.SymbolicTensor;
  const side = tf.layers.dense({ units: 5, activation: 'relu' }).apply(extra) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate().apply([side, flat]) as tf.SymbolicTensor;
  const out = tf.layers
    .dense({ units: 2, activation: 'softmax' })
    .apply(joined) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [image, extra], outputs: out });
  randomizeWeights(model, 50);
  const x = [
    tf.randomNormal([3, 6, 6, 2], 0, 1, 'float32', 1),
    tf.randomNormal([3, 4], 0, 1, 'float32', 2),
  ];
  const bytes = exportLayersModelToOnnx(model, {
    inputNames: ['image', 'features'],
    outputNames: ['p'],
  });
  const result = await compareWithTfjs(model, bytes, x);
  assert.ok(result.maxAbsDiff < TOLERANCE, `max abs difference ${result.maxAbsDiff}`);
  const { session } = await runOnnx(bytes, x);
  assert.deepEqual(session.inputNames, ['image', 'features']);
  assert.deepEqual(session.outputNames, ['p']);
  await session.release();
  tf.dispose(x);
  model.dispose();
});

describe('more image and sequence layers', () => {
  test('separable convolution, nearest and bilinear up-sampling, cropping', async () => {
    await assertSameAsTfjs(
      sequential(
        [7, 6, 3],
        [
          tf.layers.separableConv2d({
            filters: 5,
            kernelSize: 3,
            depthMultiplier: 2,
            padding: 'same',
            activation: 'relu',
          }),
          tf.layers.upSampling2d({ size: [2, 3] }),
          tf.layers.cropping2D({
            cropping: [
              [1, 2],
              [3, 0],
            ],
          }),
          tf.layers.separableConv2d({ filters: 2, kernelSize: 2, strides: 2, useBias: false }),
          tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }),
          tf.layers.flatten(),
        ],
      ),
      40,
    );
  });

  test('Conv1D: valid, same with stride 2, dilated', async () => {
    await assertSameAsTfjs(
      sequential(
        [11, 3],
        [
          tf.layers.conv1d({ filters: 4, kernelSize: 3, activation: 'tanh' }),
          tf.layers.conv1d({ filters: 4, kernelSize: 2, strides: 2, padding: 'same' }),
          tf.layers.conv1d({ filters: 2, kernelSize: 2, dilationRate: 2 }),
          tf.layers.flatten(),
        ],
      ),
      41,
    );
  });

  test('PReLU (shared over space), layer normalisation, permute, repeat vector', async () => {
    await assertSameAsTfjs(
      sequential(
        [4, 5, 3],
        [
          tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
          tf.layers.prelu({ sharedAxes: [1, 2], alphaInitializer: 'glorotNormal' }),
          tf.layers.reshape({ targetShape: [20, 4] }),
          tf.layers.layerNormalization({ epsilon: 0.01 }),
          tf.layers.permute({ dims: [2, 1] }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 3 }),
          tf.layers.repeatVector({ n: 4 }),
          tf.layers.flatten(),
        ],
      ),
      42,
    );
  });
});

describe('recurrent layers', () => {
  test('stacked: return sequences with sigmoid gates and relu cells, then the last step', async () => {
    await assertSameAsTfjs(
      sequential(
        [6, 4],
        [
          tf.layers.lstm({
            units: 5,
            returnSequences: true,
            recurrentActivation: 'sigmoid',
            activation: 'relu',
          }),
          tf.layers.lstm({ units: 3, useBias: false }),
        ],
      ),
      30,
    );
  });

  test('GRU (hard-sigmoid gates) stacked on a SimpleRNN (relu), both returning sequences', async () => {
    await assertSameAsTfjs(
      sequential(
        [6, 3],
        [
          tf.layers.simpleRNN({ units: 4, returnSequences: true, activation: 'relu' }),
          tf.layers.gru({ units: 5, returnSequences: true }),
          tf.layers.gru({ units: 2, recurrentActivation: 'sigmoid', useBias: false }),
        ],
      ),
      32,
    );
  });

  test('Bidirectional LSTM, concatenated, last step', async () => {
    await assertSameAsTfjs(
      sequential(
        [6, 3],
        [tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 4 }) as tf.RNN })],
      ),
      33,
    );
  });

  test('Bidirectional GRU sequences averaged, then Bidirectional SimpleRNN summed and multiplied', async () => {
    const input = tf.input({ shape: [5, 3] });
    const seq = tf.layers
      .bidirectional({
        layer: tf.layers.gru({ units: 4, returnSequences: true }) as tf.RNN,
        mergeMode: 'ave',
      })
      .apply(input) as tf.SymbolicTensor;
    const summed = tf.layers
      .bidirectional({ layer: tf.layers.simpleRNN({ units: 3 }) as tf.RNN, mergeMode: 'sum' })
      .apply(seq) as tf.SymbolicTensor;
    const multiplied = tf.layers
      .bidirectional({
        layer: tf.layers.lstm({ units: 3, returnSequences: true }) as tf.RNN,
        mergeMode: 'mul',
      })
      .apply(seq) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(multiplied) as tf.SymbolicTensor;
    const out = tf.layers.concatenate().apply([summed, flat]) as tf.SymbolicTensor;
    await assertSameAsTfjs(tf.model({ inputs: input, outputs: out }), 34);
  });

  test('return sequences into a dense layer over time; linear cell activation', async () => {
    await assertSameAsTfjs(
      sequential(
        [5, 3],
        [
          tf.layers.lstm({ units: 4, returnSequences: true, activation: 'linear' }),
          tf.layers.dense({ units: 2, activation: 'tanh' }),
          tf.layers.flatten(),
        ],
      ),
      31,
    );
  });
});
