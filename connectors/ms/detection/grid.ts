/**
 * mscr's own detector head (trained by the Model layer, `object-detection` task): the input
 * is divided into a grid of `rows` x `cols` cells and each cell predicts at most one object,
 * the one whose box centre falls in it (as YOLOv1 and centre-point detectors assign them).
 * Output `[batch, rows, cols, 5 + classes]` of raw logits per cell:
 *
 * - 0: objectness; sigmoid = probability that an object's centre is in the cell
 * - 1, 2: the centre's x and y within the cell; sigmoid = 0..1 of the cell's width / height
 * - 3, 4: the box's width and height; sigmoid = 0..1 of the input's width / height
 * - 5 ..: one logit per class; softmax over the classes
 *
 * A box's score for class c is sigmoid(objectness) x softmax(classes)[c]. Raw logits keep the
 * network a plain layers model (no custom decode layer to serialise); the decode is here, in
 * the MS contract, so the Model layer's evaluation and the Service read boxes identically.
 */
import { MscrError } from '../../errors.ts';

/** Channels per cell before the class logits. */
export const GRID_BOX_CHANNELS = 5;

export interface GridInputSize {
  width: number;
  height: number;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * One image's grid output (`[1, rows, cols, 5 + classes]`) as the anchor-free YOLO layout
 * `[1, 4 + classes, rows x cols]` (centre x, centre y, width, height in input pixels, then
 * the per-class scores), so one decoder and one NMS serve every layout.
 */
export function gridToAnchorFree(
  output: Float32Array,
  shape: readonly number[],
  classes: number,
  input: GridInputSize,
): { values: Float32Array; shape: [1, number, number] } {
  const [batch, rows, cols, channels] = shape;
  if (
    shape.length !== 4 ||
    batch !== 1 ||
    rows === undefined ||
    cols === undefined ||
    channels !== GRID_BOX_CHANNELS + classes ||
    rows < 1 ||
    cols < 1
  ) {
    throw new MscrError(
      'bad_request',
      `a grid detector output must be [1, rows, cols, ${GRID_BOX_CHANNELS + classes}] for ${classes} classes, not [${shape.join(', ')}]`,
    );
  }
  if (output.length !== rows * cols * channels) {
    throw new MscrError(
      'internal',
      `a grid output of ${output.length} values does not fill [${shape.join(', ')}]`,
    );
  }
  const cells = rows * cols;
  const values = new Float32Array((4 + classes) * cells);
  const cellWidth = input.width / cols;
  const cellHeight = input.height / rows;
  const exps = new Float64Array(classes);
  for (let row = 0; row < rows; row++) {
    for (let col = 0; col < cols; col++) {
      const cell = row * cols + col;
      const at = cell * channels;
      const channel = (c: number) => output[at + c] as number;
      values[cell] = (col + sigmoid(channel(1))) * cellWidth;
      values[cells + cell] = (row + sigmoid(channel(2))) * cellHeight;
      values[2 * cells + cell] = sigmoid(channel(3)) * input.width;
      values[3 * cells + cell] = sigmoid(channel(4)) * input.height;
      const objectness = sigmoid(channel(0));
      let largest = -Infinity;
      for (let c = 0; c < classes; c++) largest = Math.max(largest, channel(GRID_BOX_CHANNELS + c));
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        exps[c] = Math.exp(channel(GRID_BOX_CHANNELS + c) - largest);
        sum += exps[c] as number;
      }
      for (let c = 0; c < classes; c++) {
        values[(4 + c) * cells + cell] = (objectness * (exps[c] as number)) / sum;
      }
    }
  }
  return { values, shape: [1, 4 + classes, cells] };
}
