/**
 * Reading a detector's output as boxes: the one decoder the Service (`/detect`, batched) and
 * the Model layer's evaluation (mAP) share, for mscr's own grid head and imported YOLO models.
 */
import { MscrError } from '../../errors.ts';
import { gridToAnchorFree } from './grid.ts';
import { DETECTION_DEFAULTS, type DetectionSpec } from './spec.ts';
import { decodeYolo, type DetectedBox } from './yolo.ts';

export { cornerIou, nonMaxSuppression } from './nms.ts';
export { GRID_BOX_CHANNELS, gridToAnchorFree } from './grid.ts';
export {
  checkDetectionSpec,
  DETECTION_DEFAULTS,
  DETECTION_LAYOUTS,
  MAX_DETECTIONS_LIMIT,
  type DetectionLayout,
  type DetectionSpec,
} from './spec.ts';
export { decodeYolo, yoloLayoutOf, type DetectedBox, type YoloLayout } from './yolo.ts';

export interface DecodeDetectionsOptions {
  /** The model input's size in pixels (boxes come out in these pixels). */
  input: { width: number; height: number };
  classes: number;
  /** Per-request overrides of the manifest's thresholds. */
  scoreThreshold?: number;
  iouThreshold?: number;
  maxDetections?: number;
}

/**
 * Boxes per image of a batch output (`shape[0]` images), in the model input's pixels, each
 * image's boxes sorted by score.
 */
export function decodeDetections(
  spec: DetectionSpec,
  output: Float32Array,
  shape: readonly number[],
  options: DecodeDetectionsOptions,
): DetectedBox[][] {
  const batch = shape[0];
  if (batch === undefined || !Number.isSafeInteger(batch) || batch < 1 || shape.length < 2) {
    throw new MscrError(
      'internal',
      `a detector output of shape [${shape.join(', ')}] has no batch`,
    );
  }
  const perImage = output.length / batch;
  if (!Number.isInteger(perImage)) {
    throw new MscrError(
      'internal',
      `a detector output of ${output.length} values does not split into ${batch} images`,
    );
  }
  const itemShape = [1, ...shape.slice(1)];
  const thresholds = {
    classes: options.classes,
    scoreThreshold:
      options.scoreThreshold ?? spec.scoreThreshold ?? DETECTION_DEFAULTS.scoreThreshold,
    iouThreshold: options.iouThreshold ?? spec.iouThreshold ?? DETECTION_DEFAULTS.iouThreshold,
    maxDetections: options.maxDetections ?? spec.maxDetections ?? DETECTION_DEFAULTS.maxDetections,
  };
  return Array.from({ length: batch }, (_, image) => {
    const item = output.subarray(image * perImage, (image + 1) * perImage);
    if (spec.layout === 'grid') {
      const { values, shape: yoloShape } = gridToAnchorFree(
        item,
        itemShape,
        options.classes,
        options.input,
      );
      return decodeYolo(values, yoloShape, { ...thresholds, layout: 'anchor-free' });
    }
    return decodeYolo(item, itemShape, { ...thresholds, layout: spec.layout });
  });
}

/**
 * Boxes in the model input's pixels mapped to an image of another size that was stretched to
 * the input (each axis scales on its own), clipped to the image.
 */
export function toImagePixels(
  boxes: readonly DetectedBox[],
  input: { width: number; height: number },
  image: { width: number; height: number },
): DetectedBox[] {
  const sx = image.width / input.width;
  const sy = image.height / input.height;
  return boxes.map((detected) => {
    const [x, y, w, h] = detected.box;
    const x1 = Math.min(Math.max(x * sx, 0), image.width);
    const y1 = Math.min(Math.max(y * sy, 0), image.height);
    const x2 = Math.min(Math.max((x + w) * sx, 0), image.width);
    const y2 = Math.min(Math.max((y + h) * sy, 0), image.height);
    return { ...detected, box: [x1, y1, x2 - x1, y2 - y1] };
  });
}
