/**
 * Object-detection metrics computed as the COCO evaluation does (pycocotools' COCOeval,
 * bbox, area "all", at most 100 detections per image, no crowd regions):
 *
 * - Per image and class, detections in descending score order are matched greedily to the
 *   not-yet-matched ground truth box of highest IoU at or above the threshold.
 * - Per class, every image's detections are ranked by score (stable, as numpy's mergesort),
 *   precision is made non-increasing from the end, and read at the 101 recall points
 *   0, 0.01, ..., 1 (the first rank whose recall reaches the point; 0 past the last).
 * - AP of a class is the mean of those 101 precisions; classes without ground truth are left
 *   out; mAP@0.5 is the mean over classes at IoU 0.5, mAP@0.5:0.95 the mean over the ten
 *   thresholds 0.5, 0.55, ..., 0.95 as well.
 *
 * Boxes are `[x, y, width, height]` in pixels, as in COCO JSON.
 */

export type Box = readonly [x: number, y: number, width: number, height: number];

export interface GroundTruth {
  image: string | number;
  label: string;
  box: Box;
}

export interface Detection extends GroundTruth {
  score: number;
}

export interface DetectionReport {
  /** Mean AP over classes at IoU 0.5. */
  map50: number;
  /** Mean AP over classes and IoU 0.5:0.05:0.95 (COCO's headline "AP"). */
  map: number;
  /** Per class with ground truth: AP at 0.5 and over 0.5:0.95, and its box counts. */
  classes: Record<string, { ap50: number; ap: number; truths: number; detections: number }>;
}

/** numpy's `linspace(start, stop, count)` to the last bit, so ties fall as in pycocotools. */
function linspace(start: number, stop: number, count: number): number[] {
  const step = (stop - start) / (count - 1);
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? stop : i * step + start));
}

export const COCO_IOU_THRESHOLDS: readonly number[] = linspace(0.5, 0.95, 10);
const RECALL_POINTS = linspace(0, 1, 101);
const MAX_DETECTIONS = 100;

/** Intersection over union of two `[x, y, w, h]` boxes (0 when either is empty). */
export function iou(a: Box, b: Box): number {
  const width = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const height = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (width <= 0 || height <= 0) return 0;
  const inter = width * height;
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

/** Per detection of one image and class (score order), whether it matched at `threshold`. */
function matchImage(
  detections: readonly Detection[],
  truths: readonly GroundTruth[],
  threshold: number,
): boolean[] {
  const taken = new Array<boolean>(truths.length).fill(false);
  return detections.map((detection) => {
    // COCOeval: the best IoU so far starts at min(threshold, 1 - 1e-10), and a box must beat it.
    let best = Math.min(threshold, 1 - 1e-10);
    let match = -1;
    truths.forEach((truth, t) => {
      if (taken[t]) return;
      const overlap = iou(detection.box, truth.box);
      if (overlap < best) return;
      best = overlap;
      match = t;
    });
    if (match < 0) return false;
    taken[match] = true;
    return true;
  });
}

/** AP of one class at one threshold over every image: the 101-point interpolated precision. */
function averagePrecision(
  byImage: Map<string | number, { detections: Detection[]; truths: GroundTruth[] }>,
  threshold: number,
  truthCount: number,
): number {
  const ranked: { score: number; matched: boolean }[] = [];
  // Images in id order, as COCOeval concatenates them (it decides ties in score).
  const images = [...byImage.keys()].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : 1,
  );
  for (const image of images) {
    const { detections, truths } = byImage.get(image) as {
      detections: Detection[];
      truths: GroundTruth[];
    };
    const matched = matchImage(detections, truths, threshold);
    detections.forEach((d, i) => ranked.push({ score: d.score, matched: matched[i] as boolean }));
  }
  // Stable, like numpy's mergesort on -score.
  ranked.sort((a, b) => b.score - a.score);
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  let fp = 0;
  for (const { matched } of ranked) {
    if (matched) tp += 1;
    else fp += 1;
    precision.push(tp / (tp + fp));
    recall.push(tp / truthCount);
  }
  for (let i = precision.length - 1; i > 0; i--) {
    if ((precision[i] as number) > (precision[i - 1] as number))
      precision[i - 1] = precision[i] as number;
  }
  let sum = 0;
  let rank = 0;
  for (const point of RECALL_POINTS) {
    while (rank < recall.length && (recall[rank] as number) < point) rank += 1;
    sum += rank < precision.length ? (precision[rank] as number) : 0;
  }
  return sum / RECALL_POINTS.length;
}

/** COCO-style mAP of `detections` against `truths`. */
export function detectionReport(
  truths: readonly GroundTruth[],
  detections: readonly Detection[],
): DetectionReport {
  const labels = [...new Set(truths.map((t) => t.label))].sort();
  const classes: DetectionReport['classes'] = {};
  for (const label of labels) {
    const byImage = new Map<string | number, { detections: Detection[]; truths: GroundTruth[] }>();
    const entry = (image: string | number) => {
      let found = byImage.get(image);
      if (!found) byImage.set(image, (found = { detections: [], truths: [] }));
      return found;
    };
    const classTruths = truths.filter((t) => t.label === label);
    for (const truth of classTruths) entry(truth.image).truths.push(truth);
    let detectionCount = 0;
    for (const detection of detections) {
      if (detection.label === label) entry(detection.image).detections.push(detection);
    }
    for (const image of byImage.values()) {
      image.detections.sort((a, b) => b.score - a.score);
      image.detections.splice(MAX_DETECTIONS);
      detectionCount += image.detections.length;
    }
    const aps = COCO_IOU_THRESHOLDS.map((t) => averagePrecision(byImage, t, classTruths.length));
    classes[label] = {
      ap50: aps[0] as number,
      ap: aps.reduce((a, b) => a + b, 0) / aps.length,
      truths: classTruths.length,
      detections: detectionCount,
    };
  }
  const mean = (pick: (c: DetectionReport['classes'][string]) => number) =>
    labels.length === 0
      ? 0
      : labels.reduce((sum, l) => sum + pick(classes[l] as DetectionReport['classes'][string]), 0) /
        labels.length;
  return { map50: mean((c) => c.ap50), map: mean((c) => c.ap), classes };
}
