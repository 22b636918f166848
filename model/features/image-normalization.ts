/**
 * Image preprocessing strategies producing the manifest's `ImagePreprocessing`:
 * `rescale` (x / 255) and `standardize` (per-channel mean and std of the training pixels
 * after / 255). The transform itself is the connector's `imagePixelsToInput`.
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import type { ImagePreprocessing } from '../../connectors/ms/manifest.ts';
import { imagePixelsToInput } from '../../connectors/ms/preprocessing.ts';
import type { ImageDataset } from '../data/index.ts';
import type { FeatureStrategy, Features } from './types.ts';

export type ImageNormalizationName = ImagePreprocessing['normalization']['type'];
export const IMAGE_NORMALIZATIONS: readonly ImageNormalizationName[] = ['rescale', 'standardize'];

export type ImageFeatureStrategy = FeatureStrategy<
  ImageDataset,
  ImagePreprocessing,
  Features<tf.Tensor4D, tf.Tensor2D>
>;

/** A channel whose std is below this is treated as constant: its std is recorded as 1. */
const MIN_STD = 1e-6;

function checkShape(dataset: ImageDataset, spec: ImagePreprocessing): void {
  if (
    dataset.height !== spec.height ||
    dataset.width !== spec.width ||
    dataset.channels !== spec.channels
  ) {
    throw new MscrError(
      'bad_data',
      `images are ${dataset.height}x${dataset.width}x${dataset.channels} but the preprocessing expects ${spec.height}x${spec.width}x${spec.channels}; load them at that size`,
    );
  }
}

/** Float32 tensor [N, H, W, C] of the dataset's images, normalised by `spec`. */
export function toImageTensor(dataset: ImageDataset, spec: ImagePreprocessing): tf.Tensor4D {
  checkShape(dataset, spec);
  return tf.tensor4d(imagePixelsToInput(dataset.pixels, spec), [
    dataset.count,
    spec.height,
    spec.width,
    spec.channels,
  ]);
}

/** One-hot float32 labels [N, classes]. */
export function oneHotLabels(labels: Int32Array, classes: number): tf.Tensor2D {
  labels.forEach((label, i) => {
    if (label < 0 || label >= classes) {
      throw new MscrError('bad_data', `label ${label} of sample ${i} is outside 0..${classes - 1}`);
    }
  });
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D);
}

function baseSpec(train: ImageDataset): Omit<ImagePreprocessing, 'normalization'> {
  if (train.count === 0) throw new MscrError('bad_data', 'cannot fit on an empty image dataset');
  return { kind: 'image', height: train.height, width: train.width, channels: train.channels };
}

function transform(
  data: ImageDataset,
  spec: ImagePreprocessing,
): Features<tf.Tensor4D, tf.Tensor2D> {
  const x = toImageTensor(data, spec);
  try {
    return { x, y: oneHotLabels(data.labels, data.classNames.length) };
  } catch (error) {
    x.dispose();
    throw error;
  }
}

/** Per-channel mean and (population) std of the pixels after / 255. */
export function channelStatistics(dataset: ImageDataset): { mean: number[]; std: number[] } {
  const channels = dataset.channels;
  const sum = new Float64Array(channels);
  const sumSquares = new Float64Array(channels);
  const pixels = dataset.pixels;
  for (let i = 0; i < pixels.length; i++) {
    const c = i % channels;
    const v = (pixels[i] as number) / 255;
    sum[c] = (sum[c] as number) + v;
    sumSquares[c] = (sumSquares[c] as number) + v * v;
  }
  const n = pixels.length / channels;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sumSquares, (sq, c) => {
    const m = mean[c] as number;
    return Math.sqrt(Math.max(0, sq / n - m * m));
  });
  return { mean, std };
}

export const rescale: ImageFeatureStrategy = {
  name: 'rescale',
  fit: (train) => ({ ...baseSpec(train), normalization: { type: 'rescale' } }),
  transform,
};

export const standardize: ImageFeatureStrategy = {
  name: 'standardize',
  fit: (train) => {
    const spec = baseSpec(train);
    const { mean, std } = channelStatistics(train);
    return {
      ...spec,
      normalization: { type: 'standardize', mean, std: std.map((s) => (s < MIN_STD ? 1 : s)) },
    };
  },
  transform,
};

export function imageNormalizationFromName(name: string): ImageFeatureStrategy {
  if (name === 'rescale') return rescale;
  if (name === 'standardize') return standardize;
  throw new MscrError(
    'config',
    `unknown image normalization ${JSON.stringify(name)}; use ${IMAGE_NORMALIZATIONS.join(' or ')}`,
  );
}
