/**
 * The grid detector's training targets and loss (the layout is the MS contract's, see
 * connectors/ms/detection/grid.ts). Targets per cell: objectness 1 in the cell holding an
 * object's centre (0 elsewhere), the centre's offset in the cell, the box's width and height
 * as fractions of the input, and the class one-hot. A cell holds at most one object: when
 * two centres share a cell the larger box is kept (YOLOv1 has the same limit).
 */
import * as tf from '@tensorflow/tfjs';
import { GRID_BOX_CHANNELS } from '../../connectors/ms/detection/index.ts';

/** A box in the model input's pixels with its class index. */
export interface InputBox {
  box: readonly [number, number, number, number];
  category: number;
}

export interface GridShape {
  rows: number;
  cols: number;
  classes: number;
  /** The model input's size in pixels. */
  width: number;
  height: number;
}

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value));

/** Targets `[images, rows, cols, 5 + classes]` for each image's boxes (input pixels). */
export function encodeGridTargets(
  images: readonly (readonly InputBox[])[],
  grid: GridShape,
): Float32Array {
  const { rows, cols, classes, width, height } = grid;
  const channels = GRID_BOX_CHANNELS + classes;
  const out = new Float32Array(images.length * rows * cols * channels);
  const cellWidth = width / cols;
  const cellHeight = height / rows;
  images.forEach((boxes, image) => {
    const area = new Float64Array(rows * cols);
    for (const { box, category } of boxes) {
      const [x, y, w, h] = box;
      const cx = x + w / 2;
      const cy = y + h / 2;
      const col = clamp(Math.floor(cx / cellWidth), 0, cols - 1);
      const row = clamp(Math.floor(cy / cellHeight), 0, rows - 1);
      const cell = row * cols + col;
      if ((area[cell] as number) >= w * h) continue;
      area[cell] = w * h;
      const at = (image * rows * cols + cell) * channels;
      out.fill(0, at, at + channels);
      out[at] = 1;
      out[at + 1] = clamp(cx / cellWidth - col, 0, 1);
      out[at + 2] = clamp(cy / cellHeight - row, 0, 1);
      out[at + 3] = clamp(w / width, 0, 1);
      out[at + 4] = clamp(h / height, 0, 1);
      out[at + GRID_BOX_CHANNELS + category] = 1;
    }
  });
  return out;
}

export interface GridLossWeights {
  /** Weight of objectness on cells with an object (default 1). */
  object: number;
  /** Weight of objectness on empty cells (default 0.5, as YOLOv1's lambda_noobj). */
  noObject: number;
  /** Weight of the centre and size terms (default 5, as YOLOv1's lambda_coord). */
  box: number;
  /** Weight of the class term (default 1). */
  class: number;
}

export const DEFAULT_GRID_LOSS_WEIGHTS: GridLossWeights = {
  object: 1,
  noObject: 0.5,
  box: 5,
  class: 1,
};

/** Binary cross-entropy of logits `x` against targets `z` in [0, 1], numerically stable. */
function bceWithLogits(x: tf.Tensor, z: tf.Tensor): tf.Tensor {
  return tf.add(tf.sub(tf.relu(x), tf.mul(x, z)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))));
}

/**
 * The loss per image (summed over cells): BCE-with-logits on objectness over every cell
 * (weighted by object / no object); on cells with an object, BCE-with-logits of the sigmoid
 * centre and size against their fractional targets, and softmax cross-entropy of the class.
 */
export function gridDetectionLoss(
  weights: GridLossWeights = DEFAULT_GRID_LOSS_WEIGHTS,
): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
  return (yTrue, yPred) =>
    tf.tidy(() => {
      const channels = yTrue.shape[3] as number;
      const classes = channels - GRID_BOX_CHANNELS;
      const part = (tensor: tf.Tensor, start: number, size: number) =>
        tf.slice(tensor, [0, 0, 0, start], [-1, -1, -1, size]);
      const object = part(yTrue, 0, 1);
      const cellWeight = tf.add(
        tf.mul(object, weights.object),
        tf.mul(tf.sub(1, object), weights.noObject),
      );
      const objectness = tf.mul(cellWeight, bceWithLogits(part(yPred, 0, 1), object));
      const box = tf.mul(
        weights.box,
        tf.mul(object, tf.sum(bceWithLogits(part(yPred, 1, 4), part(yTrue, 1, 4)), -1, true)),
      );
      const logProbabilities = tf.logSoftmax(part(yPred, GRID_BOX_CHANNELS, classes));
      const classTerm = tf.mul(
        weights.class,
        tf.mul(
          object,
          tf.neg(
            tf.sum(tf.mul(part(yTrue, GRID_BOX_CHANNELS, classes), logProbabilities), -1, true),
          ),
        ),
      );
      return tf.sum(tf.add(tf.add(objectness, box), classTerm), [1, 2, 3]);
    });
}
