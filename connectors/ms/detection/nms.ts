/**
 * Non-maximum suppression per class, with the semantics of ONNX's `NonMaxSuppression`
 * operator (and ONNX Runtime's kernel, which the tests compare with): boxes scoring above
 * the score threshold, taken in descending score order (the lower index first on a tie),
 * each kept unless its IoU with a box already kept for its class exceeds the IoU threshold,
 * at most `maxPerClass` per class.
 */

/** Corner boxes `[x1, y1, x2, y2]`, four numbers per box. */
export type CornerBoxes = Float32Array | readonly number[];

export interface NmsOptions {
  iouThreshold: number;
  scoreThreshold: number;
  maxPerClass: number;
}

export interface Kept {
  /** The box's index in the input. */
  index: number;
  classIndex: number;
  score: number;
}

/** IoU of boxes `a` and `b` of `boxes` (corners in any order, as ONNX Runtime takes them). */
export function cornerIou(boxes: CornerBoxes, a: number, b: number): number {
  const [ax1, ax2] = ordered(boxes[a * 4] as number, boxes[a * 4 + 2] as number);
  const [ay1, ay2] = ordered(boxes[a * 4 + 1] as number, boxes[a * 4 + 3] as number);
  const [bx1, bx2] = ordered(boxes[b * 4] as number, boxes[b * 4 + 2] as number);
  const [by1, by2] = ordered(boxes[b * 4 + 1] as number, boxes[b * 4 + 3] as number);
  const areaA = (ax2 - ax1) * (ay2 - ay1);
  const areaB = (bx2 - bx1) * (by2 - by1);
  if (areaA <= 0 || areaB <= 0) return 0;
  const width = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  const height = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (width <= 0 || height <= 0) return 0;
  const inter = width * height;
  return inter / (areaA + areaB - inter);
}

function ordered(a: number, b: number): [number, number] {
  return a <= b ? [a, b] : [b, a];
}

/**
 * `scores[c][i]` is box i's score for class c. Returns the kept boxes class by class, each
 * class in descending score order (the order ONNX's operator lists them in).
 */
export function nonMaxSuppression(
  boxes: CornerBoxes,
  scores: readonly (Float32Array | readonly number[])[],
  options: NmsOptions,
): Kept[] {
  const kept: Kept[] = [];
  scores.forEach((classScores, classIndex) => {
    const candidates: number[] = [];
    for (let i = 0; i < classScores.length; i++) {
      if ((classScores[i] as number) > options.scoreThreshold) candidates.push(i);
    }
    candidates.sort((a, b) => (classScores[b] as number) - (classScores[a] as number) || a - b);
    const chosen: number[] = [];
    for (const index of candidates) {
      if (chosen.length >= options.maxPerClass) break;
      if (chosen.some((other) => cornerIou(boxes, index, other) > options.iouThreshold)) continue;
      chosen.push(index);
      kept.push({ index, classIndex, score: classScores[index] as number });
    }
  });
  return kept;
}
