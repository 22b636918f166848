/**
 * What a detector's manifest says about reading its output (the `detection` field of an
 * `object-detection` manifest): which layout the box tensor has and the default thresholds
 * the Service applies. Boxes come out in the model input's pixels; the Service maps them
 * to the posted image's pixels (inputs are stretched to the model's size, so each axis
 * scales on its own).
 */
import type { YoloLayout } from './yolo.ts';

/**
 * `anchor-free` (YOLOv8+, `[batch, 4 + classes, boxes]`), `objectness` (YOLOv5/v7,
 * `[batch, boxes, 5 + classes]`), or `grid`: mscr's own detector head (grid.ts).
 */
export type DetectionLayout = YoloLayout | 'grid';
export const DETECTION_LAYOUTS: readonly DetectionLayout[] = ['anchor-free', 'objectness', 'grid'];

export interface DetectionSpec {
  layout: DetectionLayout;
  /** The output holding the boxes (default: the manifest's `outputs[0]`). */
  output?: string;
  /** Boxes scoring at or below this are dropped (default 0.25, Ultralytics' default). */
  scoreThreshold?: number;
  /** A box overlapping a kept box of its class by more IoU than this is dropped (default 0.45). */
  iouThreshold?: number;
  /** At most this many boxes per image (default 100). */
  maxDetections?: number;
}

export const DETECTION_DEFAULTS = {
  scoreThreshold: 0.25,
  iouThreshold: 0.45,
  maxDetections: 100,
} as const;

/** The largest `maxDetections` a manifest or a request may ask for. */
export const MAX_DETECTIONS_LIMIT = 1000;

function isFraction(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1;
}

/** Adds to `problems` what is wrong with a manifest's `detection` field. */
export function checkDetectionSpec(value: unknown, problems: string[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    problems.push('detection must be an object');
    return;
  }
  const spec = value as Record<string, unknown>;
  if (!DETECTION_LAYOUTS.includes(spec.layout as DetectionLayout)) {
    problems.push(`detection.layout must be one of ${DETECTION_LAYOUTS.join(', ')}`);
  }
  if (spec.output !== undefined && typeof spec.output !== 'string') {
    problems.push('detection.output must be a string');
  }
  for (const key of ['scoreThreshold', 'iouThreshold'] as const) {
    if (spec[key] !== undefined && !isFraction(spec[key])) {
      problems.push(`detection.${key} must be a number from 0 to 1`);
    }
  }
  const max = spec.maxDetections;
  if (
    max !== undefined &&
    (!Number.isSafeInteger(max) || (max as number) < 1 || (max as number) > MAX_DETECTIONS_LIMIT)
  ) {
    problems.push(`detection.maxDetections must be an integer from 1 to ${MAX_DETECTIONS_LIMIT}`);
  }
}
