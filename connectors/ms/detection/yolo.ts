/**
 * Decoding the output of YOLO-family detectors into boxes, as their reference
 * post-processing does, in the two layouts exported ONNX models use:
 *
 * - `anchor-free` (YOLOv8 and later, Ultralytics' ONNX export): `[1, 4 + classes, boxes]`,
 *   rows centre x, centre y, width, height, then one score per class (already a
 *   probability); a box's score for a class is that row's value.
 * - `objectness` (YOLOv5/v7): `[1, boxes, 5 + classes]`, columns centre x, centre y, width,
 *   height, objectness, then class probabilities; a box's score for a class is objectness x
 *   class probability.
 *
 * Coordinates are in the model input's pixels. Non-maximum suppression is per class
 * (nms.ts); the result is sorted by score, at most `maxDetections`.
 */
import { MscrError } from '../../errors.ts';
import { nonMaxSuppression } from './nms.ts';

export type YoloLayout = 'anchor-free' | 'objectness';

export interface YoloOptions {
  classes: number;
  /** Default: told apart by the shape (see `yoloLayoutOf`). */
  layout?: YoloLayout;
  /** Keep boxes scoring above this (default 0.25, Ultralytics' default). */
  scoreThreshold?: number;
  /** Suppress a box overlapping a kept one of its class by more than this (default 0.45). */
  iouThreshold?: number;
  /** At most this many boxes in all (default 100) and per class (default the same). */
  maxDetections?: number;
}

export interface DetectedBox {
  /** `[x, y, width, height]` in the model input's pixels. */
  box: [number, number, number, number];
  classIndex: number;
  score: number;
}

/** The layout an output shape `[1, a, b]` has for `classes` classes. */
export function yoloLayoutOf(shape: readonly number[], classes: number): YoloLayout {
  const [batch, a, b] = shape;
  if (shape.length === 3 && batch === 1) {
    if (a === 4 + classes) return 'anchor-free';
    if (b === 5 + classes) return 'objectness';
  }
  throw new MscrError(
    'bad_request',
    `a YOLO output of shape [${shape.join(', ')}] fits neither [1, ${4 + classes}, boxes] (anchor-free, YOLOv8) nor [1, boxes, ${5 + classes}] (objectness, YOLOv5) for ${classes} classes`,
  );
}

export function decodeYolo(
  output: Float32Array,
  shape: readonly number[],
  options: YoloOptions,
): DetectedBox[] {
  const { classes } = options;
  const layout = options.layout ?? yoloLayoutOf(shape, classes);
  const anchorFree = layout === 'anchor-free';
  const count = (anchorFree ? shape[2] : shape[1]) ?? 0;
  const width = anchorFree ? count : 5 + classes;
  if (output.length !== count * (anchorFree ? 4 + classes : width)) {
    throw new MscrError(
      'internal',
      `a YOLO output of ${output.length} values does not fill [${shape.join(', ')}]`,
    );
  }
  // value(row, box) in the anchor-free layout's terms: row 0-3 the box, 4.. the classes.
  const value = anchorFree
    ? (row: number, box: number) => output[row * count + box] as number
    : (row: number, box: number) => output[box * width + (row < 4 ? row : row + 1)] as number;
  const corners = new Float32Array(count * 4);
  for (let box = 0; box < count; box++) {
    const cx = value(0, box);
    const cy = value(1, box);
    const w = value(2, box);
    const h = value(3, box);
    corners.set([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], box * 4);
  }
  const scores = Array.from({ length: classes }, (_, c) => {
    const row = new Float32Array(count);
    for (let box = 0; box < count; box++) {
      const probability = value(4 + c, box);
      row[box] = anchorFree ? probability : (output[box * width + 4] as number) * probability;
    }
    return row;
  });
  const maxDetections = options.maxDetections ?? 100;
  const kept = nonMaxSuppression(corners, scores, {
    iouThreshold: options.iouThreshold ?? 0.45,
    scoreThreshold: options.scoreThreshold ?? 0.25,
    maxPerClass: maxDetections,
  });
  kept.sort((a, b) => b.score - a.score || a.index - b.index);
  return kept.slice(0, maxDetections).map(({ index, classIndex, score }) => {
    const x1 = corners[index * 4] as number;
    const y1 = corners[index * 4 + 1] as number;
    const x2 = corners[index * 4 + 2] as number;
    const y2 = corners[index * 4 + 3] as number;
    return { box: [x1, y1, x2 - x1, y2 - y1], classIndex, score };
  });
}
