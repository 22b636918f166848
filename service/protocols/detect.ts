/**
 * `POST /mscr/models/{m}[/versions/{v}]/detect`: a detector's batched output read as boxes
 * in the posted image's pixels. The decode and non-maximum suppression are the MS connector's
 * (`connectors/ms/detection`), the same the Model layer's mAP uses; here they run per image
 * after the data plane's (batched) inference, and the boxes go from the model input's pixels
 * to the posted image's (inputs are stretched to the model's size).
 */
import { MscrError } from '../../connectors/errors.ts';
import {
  decodeDetections,
  MAX_DETECTIONS_LIMIT,
  toImagePixels,
  yoloLayoutOf,
  type DetectionSpec,
} from '../../connectors/ms/detection/index.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { Detection, DetectResponse } from '../../connectors/sc/mscr.ts';
import { imageSpecOf } from './convenience.ts';
import { badRequest, checkOutput, float32ToJson, quote, shapeText } from './tensor.ts';
import type { OutputTensor } from './tensor.ts';

/** The per-request overrides of a detector's thresholds (`?threshold=&iou=&max=`). */
export interface DetectParams {
  scoreThreshold?: number;
  iouThreshold?: number;
  maxDetections?: number;
}

/** What the service needs to read a detector's output. */
export interface Detector {
  spec: DetectionSpec;
  labels: readonly string[];
  /** The model input's size: the pixels its boxes come out in. */
  input: { width: number; height: number };
}

function single(name: string, value: unknown): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw badRequest(`${name} must be given once, as a number`);
  return value;
}

function fraction(name: string, value: unknown, meaning: string): number | undefined {
  const text = single(name, value);
  if (text === undefined) return undefined;
  const number = /^[0-9.eE+-]{1,32}$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(number) || number < 0 || number > 1) {
    throw badRequest(`${name} must be a number from 0 to 1 (${meaning}), got ${quote(text)}`);
  }
  return number;
}

/** `?threshold=0.5&iou=0.45&max=20`, each checked; a bad one is a 400 naming it. */
export function parseDetectParams(query: Record<string, unknown>): DetectParams {
  const scoreThreshold = fraction(
    'threshold',
    query.threshold,
    'boxes scoring at or below it are dropped',
  );
  const iouThreshold = fraction(
    'iou',
    query.iou,
    'the overlap above which a box of the same class is suppressed',
  );
  const maxText = single('max', query.max);
  let maxDetections: number | undefined;
  if (maxText !== undefined) {
    maxDetections = /^[0-9]{1,7}$/.test(maxText) ? Number(maxText) : NaN;
    if (!(maxDetections >= 1 && maxDetections <= MAX_DETECTIONS_LIMIT)) {
      throw badRequest(
        `max must be an integer from 1 to ${MAX_DETECTIONS_LIMIT} (boxes per image at most), got ${quote(maxText)}`,
      );
    }
  }
  return {
    ...(scoreThreshold !== undefined ? { scoreThreshold } : {}),
    ...(iouThreshold !== undefined ? { iouThreshold } : {}),
    ...(maxDetections !== undefined ? { maxDetections } : {}),
  };
}

/**
 * The detector a manifest describes, or a `bad_request` saying why the model is none: its
 * task (`/detect` on a classifier names the task and the route to use), or no image input.
 * A detector imported before manifests had `detection` gets its layout from the output shape.
 */
export function detectorOf(manifest: ModelManifest): Detector {
  if (manifest.task !== 'object-detection') {
    const instead =
      manifest.task === 'image-classification'
        ? '; use /classify'
        : manifest.task === 'series-forecast'
          ? '; use /forecast'
          : '';
    throw badRequest(
      `model ${quote(manifest.name)} is a ${manifest.task} model, not an object detector: /detect takes object-detection models${instead}`,
    );
  }
  const image = imageSpecOf(manifest);
  const labels = manifest.labels ?? [];
  if (labels.length === 0) {
    throw new MscrError(
      'internal',
      `detector ${quote(manifest.name)} has no labels in its manifest`,
    );
  }
  let spec = manifest.detection;
  if (spec === undefined) {
    const shape = manifest.outputs[0]?.shape ?? [];
    spec = { layout: yoloLayoutOf([1, ...shape.slice(1)], labels.length) };
  }
  return { spec, labels, input: { width: image.width, height: image.height } };
}

/** `/classify` on a detector: a 400 pointing to `/detect` (its output has no classes to rank). */
export function refuseDetector(manifest: ModelManifest): void {
  if (manifest.task === 'object-detection') {
    throw badRequest(
      `model ${quote(manifest.name)} is an object-detection model: post its images to its /detect route for boxes`,
    );
  }
}

/** The output that holds the boxes: the manifest's `detection.output`, else the first. */
export function boxOutputOf(detector: Detector, outputs: readonly OutputTensor[]): OutputTensor {
  const name = detector.spec.output;
  const output = name === undefined ? outputs[0] : outputs.find((o) => o.name === name);
  if (output === undefined) {
    throw new MscrError(
      'internal',
      `the detector returned no output${name === undefined ? '' : ` named ${quote(name)}`}`,
    );
  }
  checkOutput(output);
  return output;
}

/** Rounds a pixel coordinate to 1/100 pixel (more is noise from float32). */
function pixel(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * One image's boxes from its output rows (`[1, ...]`), in the posted image's pixels, best
 * first, with label names.
 */
export function detectionsOf(
  detector: Detector,
  output: OutputTensor,
  image: { width: number; height: number },
  params: DetectParams,
): Detection[] {
  if (output.shape[0] !== 1) {
    throw new MscrError(
      'internal',
      `a /detect answer has one image; the output has shape ${shapeText(output.shape)}`,
    );
  }
  const [boxes = []] = decodeDetections(detector.spec, output.data, output.shape, {
    input: detector.input,
    classes: detector.labels.length,
    ...params,
  });
  return toImagePixels(boxes, detector.input, image).map(({ box, classIndex, score }) => ({
    box: [pixel(box[0]), pixel(box[1]), pixel(box[2]), pixel(box[3])],
    label: detector.labels[classIndex] ?? String(classIndex),
    classIndex,
    score: float32ToJson(Math.fround(score), `score of a ${detector.labels[classIndex]} box`),
  }));
}

export function encodeDetectResponse(
  manifest: ModelManifest,
  version: number,
  id: string,
  image: { width: number; height: number },
  detections: Detection[],
): DetectResponse {
  return { id, model: manifest.name, version, image, detections };
}
