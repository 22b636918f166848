/**
 * Test support for detection: a tiny TF.js detector with mscr's grid head whose weights are
 * set by hand, not trained, so a known image gives known boxes; and the images it reads.
 *
 * The model takes an 8x8 RGB image (rescaled to 0..1) and answers a 2x2 grid of cells,
 * `[batch, 2, 2, 5 + 2]` (connectors/ms/detection/grid.ts), with one 4x4 convolution of
 * stride 4, so each cell sees exactly its own quarter of the image:
 *
 * - objectness logit = (sum of the cell's red and green values) - 8: a cell of pure red or
 *   green is ~1 (sigmoid(8)), a black cell ~0, a cell of half-red (128) ~0.51;
 * - centre offsets and size logits 0: every box is centred in its cell, half the input wide
 *   and high, so it covers exactly its quarter;
 * - class logits: `circle` = sum of red, `square` = sum of green.
 *
 * Posted at any size, the image is stretched to 8x8, so each quarter of the posted image is
 * one cell and its box is that quarter in the posted image's pixels.
 */
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import type { ModelManifest } from '../connectors/ms/manifest.ts';
import type { ModelStore } from '../connectors/store/index.ts';
import { initBackend } from '../runtime/backend/index.ts';
import { publishToy } from './test-support.ts';

export const DETECTOR_LABELS = ['circle', 'square'];

/** What fills one quarter of a test image: `r,g,b` or absent (black). */
export interface Quarters {
  topLeft?: [number, number, number];
  topRight?: [number, number, number];
  bottomLeft?: [number, number, number];
  bottomRight?: [number, number, number];
}

export async function publishToyDetector(
  store: ModelStore,
  name: string,
  extra: { scoreThreshold?: number } = {},
): Promise<ModelManifest> {
  await initBackend('wasm');
  const model = tf.sequential();
  model.add(
    tf.layers.conv2d({
      inputShape: [8, 8, 3],
      filters: 7,
      kernelSize: 4,
      strides: 4,
      padding: 'valid',
      name: 'grid',
    }),
  );
  // kernel [4, 4, 3 in, 7 out]: channel 0 objectness, 1-4 box, 5 circle, 6 square.
  const kernel = new Float32Array(4 * 4 * 3 * 7);
  const at = (y: number, x: number, c: number, o: number) => ((y * 4 + x) * 3 + c) * 7 + o;
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) {
      kernel[at(y, x, 0, 0)] = 1; // red -> objectness
      kernel[at(y, x, 1, 0)] = 1; // green -> objectness
      kernel[at(y, x, 0, 5)] = 1; // red -> circle
      kernel[at(y, x, 1, 6)] = 1; // green -> square
    }
  }
  model.setWeights([tf.tensor4d(kernel, [4, 4, 3, 7]), tf.tensor1d([-8, 0, 0, 0, 0, 0, 0])]);
  return publishToy(store, model, {
    name,
    task: 'object-detection',
    architecture: 'toy-grid-detector',
    inputs: [{ name: 'image', dtype: 'float32', shape: [-1, 8, 8, 3] }],
    outputs: [{ name: 'grid', dtype: 'float32', shape: [-1, 2, 2, 7] }],
    labels: DETECTOR_LABELS,
    preprocessing: {
      kind: 'image',
      height: 8,
      width: 8,
      channels: 3,
      normalization: { type: 'rescale' },
    },
    detection: { layout: 'grid', ...extra },
  });
}

/** A `width` x `height` PNG whose quarters are filled as given (black elsewhere). */
export async function quartersPng(width: number, height: number, quarters: Quarters) {
  const halfW = width / 2;
  const halfH = height / 2;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const key =
        y < halfH ? (x < halfW ? 'topLeft' : 'topRight') : x < halfW ? 'bottomLeft' : 'bottomRight';
      const colour = quarters[key];
      if (colour) pixels.set(colour, (y * width + x) * 3);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

/** The expected score of a cell filled with pure red or green (sigmoid(16 - 8) x softmax(16, 0)). */
export function fullCellScore(): number {
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  return sigmoid(8) * (Math.exp(16) / (Math.exp(16) + 1));
}
