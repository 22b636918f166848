/**
 * Training-time augmentation on a batch tensor [N, H, W, C]: random horizontal flip and
 * random shift, composable and seeded. Each augmentation draws its per-image choices from a
 * seeded PRNG and moves pixels with one `gather` (works on every TF.js backend).
 */
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import { createRandom, type Random } from '../data/index.ts';

export interface Augmentation {
  readonly name: string;
  /** Returns a new tensor; the caller keeps ownership of `batch`. */
  apply(batch: tf.Tensor4D, random: Random): tf.Tensor4D;
}

/** Where each output pixel comes from: a flat source pixel index, or -1 for padding. */
type PixelSource = (image: number, y: number, x: number) => number;

function remap(batch: tf.Tensor4D, source: PixelSource): tf.Tensor4D {
  const [n, h, w, c] = batch.shape;
  const indices = new Int32Array(n * h * w);
  const mask = new Float32Array(n * h * w);
  let anyPadding = false;
  for (let i = 0, p = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, p++) {
        const from = source(i, y, x);
        indices[p] = from < 0 ? 0 : from;
        mask[p] = from < 0 ? 0 : 1;
        anyPadding ||= from < 0;
      }
    }
  }
  return tf.tidy(() => {
    const flat = batch.reshape([n * h * w, c]);
    let moved = tf.gather(flat, tf.tensor1d(indices, 'int32'));
    if (anyPadding) moved = moved.mul(tf.tensor2d(mask, [n * h * w, 1]));
    return moved.reshape([n, h, w, c]) as tf.Tensor4D;
  });
}

/** Mirrors each image left-right with probability `probability` (default 0.5). */
export function flip(probability = 0.5): Augmentation {
  return {
    name: 'flip',
    apply(batch, random) {
      const [n, h, w] = batch.shape;
      const flipped = Array.from({ length: n }, () => random.next() < probability);
      return remap(batch, (i, y, x) => (i * h + y) * w + (flipped[i] === true ? w - 1 - x : x));
    },
  };
}

export type ShiftPadding = 'zero' | 'edge';

/**
 * Translates each image by a random whole number of pixels in -maxShift..maxShift along
 * each axis. Uncovered pixels are 0 (`zero`: after standardize that is the mean colour) or
 * copies of the nearest edge pixel (`edge`).
 */
export function shift(maxShift = 4, padding: ShiftPadding = 'zero'): Augmentation {
  if (!Number.isInteger(maxShift) || maxShift < 0) {
    throw new MscrError('config', `shift must be a non-negative integer, got ${maxShift}`);
  }
  return {
    name: 'shift',
    apply(batch, random) {
      const [n, h, w] = batch.shape;
      const span = 2 * maxShift + 1;
      const offsets = Array.from({ length: n }, () => ({
        dy: random.int(span) - maxShift,
        dx: random.int(span) - maxShift,
      }));
      return remap(batch, (i, y, x) => {
        const { dy, dx } = offsets[i] as { dy: number; dx: number };
        let sy = y - dy;
        let sx = x - dx;
        if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
          if (padding === 'zero') return -1;
          sy = Math.min(h - 1, Math.max(0, sy));
          sx = Math.min(w - 1, Math.max(0, sx));
        }
        return (i * h + sy) * w + sx;
      });
    },
  };
}

/** Applies augmentations in order. */
export function composeAugmentations(augmentations: readonly Augmentation[]): Augmentation {
  return {
    name: augmentations.map((a) => a.name).join('+') || 'none',
    apply(batch, random) {
      let current = batch;
      for (const augmentation of augmentations) {
        const next = augmentation.apply(current, random);
        if (current !== batch) current.dispose();
        current = next;
      }
      return current === batch ? batch.clone() : current;
    },
  };
}

export const AUGMENTATION_NAMES = ['flip', 'shift'] as const;

export interface AugmenterOptions {
  seed?: number;
  /** For `shift` (default 4 pixels). */
  maxShift?: number;
  padding?: ShiftPadding;
  /** For `flip` (default 0.5). */
  flipProbability?: number;
}

/** A seeded augmentation pipeline: successive batches differ, the whole run repeats. */
export interface Augmenter {
  readonly names: string[];
  /** Returns a new tensor; the caller keeps ownership of `batch`. Safe to pass unbound. */
  readonly apply: (batch: tf.Tensor4D) => tf.Tensor4D;
}

/** Builds an augmenter from names such as `['flip', 'shift']` (e.g. from the command line). */
export function augmentationFromNames(
  names: readonly string[],
  options: AugmenterOptions = {},
): Augmenter {
  const augmentations = names.map((name): Augmentation => {
    switch (name) {
      case 'flip':
        return flip(options.flipProbability ?? 0.5);
      case 'shift':
        return shift(options.maxShift ?? 4, options.padding ?? 'zero');
      default:
        throw new MscrError(
          'config',
          `unknown augmentation ${JSON.stringify(name)}; use ${AUGMENTATION_NAMES.join(', ')}`,
        );
    }
  });
  const pipeline = composeAugmentations(augmentations);
  const random = createRandom(options.seed ?? 1);
  return { names: [...names], apply: (batch) => pipeline.apply(batch, random) };
}
