/**
 * Reading a feedback post (`FeedbackRequest`, SR connector): every field checked, with
 * messages that say what to send instead. Nothing here touches a store.
 */
import { MscrError } from '../../connectors/errors.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { FeedbackInput, FeedbackRequest, LabelledBox } from '../../connectors/sr/index.ts';
import { checkBoxLabels, parseLabelledBoxes } from './feedback-boxes.ts';
import { decodeImageBody, type ImagePolicy } from '../protocols/index.ts';
import { isClassifier } from './predictions.ts';

const FIELDS = ['predictionId', 'input', 'label', 'actual', 'boxes'];
/** Prediction ids are ours (UUIDs), but anything id-like is looked up, nothing else. */
const PREDICTION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

function bad(message: string): MscrError {
  return new MscrError('bad_request', message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownFields(value: Record<string, unknown>, allowed: string[], where: string): void {
  const extra = Object.keys(value).filter((key) => !allowed.includes(key));
  if (extra.length > 0) {
    throw bad(
      `${where} has unknown field${extra.length > 1 ? 's' : ''} ${extra
        .slice(0, 5)
        .map((k) => JSON.stringify(k.slice(0, 40)))
        .join(', ')}; allowed: ${allowed.join(', ')}`,
    );
  }
}

/** The posted JSON as a `FeedbackRequest`, its shape checked (not yet against a model). */
export function parseFeedbackRequest(json: unknown): FeedbackRequest {
  if (!isObject(json)) {
    throw bad(
      'send a JSON object: {"predictionId": "...", "label": "cat"} or {"input": {...}, "label": ...}',
    );
  }
  unknownFields(json, FIELDS, 'the feedback');
  const { predictionId, input, label, actual } = json;
  if (
    predictionId !== undefined &&
    (typeof predictionId !== 'string' || !PREDICTION_ID.test(predictionId))
  ) {
    throw bad(
      `predictionId must be the id a classify, detect, forecast or infer response gave (letters, digits, '-', '_'), got ${JSON.stringify(predictionId).slice(0, 80)}`,
    );
  }
  if (predictionId === undefined && input === undefined) {
    throw bad('send the predictionId a response gave, or the input itself as "input"');
  }
  if (input !== undefined) {
    if (!isObject(input))
      throw bad('input must be {"image_b64": "..."} or {"data": [...], "shape": [...]}');
    if ('image_b64' in input) {
      unknownFields(input, ['image_b64'], 'input');
      if (typeof input.image_b64 !== 'string') throw bad('input.image_b64 must be a base64 string');
    } else {
      unknownFields(input, ['data', 'shape'], 'input');
      if (!Array.isArray(input.data) || !Array.isArray(input.shape)) {
        throw bad('input must be {"image_b64": "..."} or {"data": [...], "shape": [...]}');
      }
    }
  }
  if (label !== undefined && typeof label !== 'string' && typeof label !== 'number') {
    throw bad('label must be a class name or a class index');
  }
  if (actual !== undefined && (typeof actual !== 'number' || !Number.isFinite(actual))) {
    throw bad(`actual must be a finite number, got ${JSON.stringify(actual)?.slice(0, 40)}`);
  }
  if (json.boxes !== undefined) return { ...json, boxes: parseLabelledBoxes(json.boxes) };
  return json as FeedbackRequest;
}

/** What the feedback says is true, checked against the model's kind and labels. */
export function truthOf(
  request: FeedbackRequest,
  manifest: ModelManifest,
): { label: string; labelIndex: number } | { actual: number } | { boxes: LabelledBox[] } {
  const labels = manifest.labels ?? [];
  if (manifest.task === 'object-detection') {
    if (request.label !== undefined || request.actual !== undefined)
      throw bad(
        `model ${manifest.name} is an object detector: send "boxes" (every object in the image, [] for none), not "${request.label !== undefined ? 'label' : 'actual'}"`,
      );
    if (request.boxes === undefined)
      throw bad(
        `send "boxes": every object in the image as {"box": [x, y, width, height], "label": "..."} in the image's pixels ([] for none)`,
      );
    checkBoxLabels(request.boxes, manifest);
    return { boxes: request.boxes };
  }
  if (request.boxes !== undefined)
    throw bad(
      `model ${manifest.name} is a ${manifest.task} model, not an object detector: "boxes" are for object-detection models; send ${isClassifier(manifest) ? '"label"' : '"actual"'}`,
    );
  if (!isClassifier(manifest)) {
    if (request.label !== undefined)
      throw bad(`model ${manifest.name} is a ${manifest.task} model: send "actual", not "label"`);
    if (request.actual === undefined)
      throw bad(`send "actual": the true value of what model ${manifest.name} predicted`);
    return { actual: request.actual };
  }
  if (request.actual !== undefined)
    throw bad(`model ${manifest.name} is a classifier: send "label", not "actual"`);
  const label = request.label;
  if (label === undefined) throw bad(`send "label": the true class, one of ${labelList(labels)}`);
  if (typeof label === 'number') {
    if (!Number.isInteger(label) || label < 0 || label >= labels.length)
      throw bad(
        `label index ${label} is out of range: model ${manifest.name} has ${labels.length} classes (0-${labels.length - 1})`,
      );
    return { label: labels[label] as string, labelIndex: label };
  }
  const index = labels.indexOf(label);
  if (index < 0)
    throw bad(
      `label ${JSON.stringify(label.slice(0, 64))} is not one of model ${manifest.name}'s labels: ${labelList(labels)}`,
    );
  return { label, labelIndex: index };
}

function labelList(labels: readonly string[]): string {
  const shown = labels.slice(0, 50).join(', ');
  return labels.length > 50 ? `${shown}, ... (${labels.length} in all)` : shown;
}

/** The image types kept as they were posted, by their first bytes. */
export function imageExtensionOf(bytes: Uint8Array): 'png' | 'jpg' | 'gif' | 'webp' | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 12));
  if (
    b.length >= 8 &&
    b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  )
    return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpg';
  if (b.length >= 6 && /^GIF8[79]a$/.test(b.toString('latin1', 0, 6))) return 'gif';
  if (
    b.length >= 12 &&
    b.toString('latin1', 0, 4) === 'RIFF' &&
    b.toString('latin1', 8, 12) === 'WEBP'
  )
    return 'webp';
  return undefined;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * A posted input, checked against the model: an image must be one the model can read (it
 * is decoded as for classify), a tensor must have the model's input shape without the batch
 * dimension and finite values.
 */
export async function feedbackInputOf(
  input: NonNullable<FeedbackRequest['input']>,
  manifest: ModelManifest,
  maxElements: number,
  images?: ImagePolicy,
): Promise<FeedbackInput> {
  if ('image_b64' in input) {
    const text = input.image_b64.replace(/^data:[^,]{0,100};base64,/, '').replace(/\s+/g, '');
    if (!BASE64.test(text) || text.length === 0)
      throw bad('input.image_b64 is not base64 (a data: URL is fine too)');
    const bytes = new Uint8Array(Buffer.from(text, 'base64'));
    const extension = imageExtensionOf(bytes);
    if (extension === undefined) throw bad('input.image_b64 is not a PNG, JPEG, GIF or WebP image');
    await decodeImageBody(bytes, manifest, {
      source: 'input.image_b64',
      formatStatus: 400,
      ...(images ? { policy: images } : {}),
    });
    return { kind: 'image', bytes, extension };
  }
  const { data, shape } = input;
  const spec = manifest.inputs[0]?.shape.slice(1) ?? [];
  const matches =
    shape.length === spec.length &&
    shape.every((d, i) => Number.isSafeInteger(d) && d > 0 && (spec[i] === -1 || spec[i] === d));
  if (!matches) {
    throw bad(
      `input.shape must be model ${manifest.name}'s input shape without the batch dimension, [${spec.join(', ')}], got ${JSON.stringify(shape).slice(0, 80)}`,
    );
  }
  const size = shape.reduce((a, b) => a * b, 1);
  if (size > maxElements) throw bad(`input has ${size} elements; the limit is ${maxElements}`);
  if (data.length !== size || !data.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw bad(
      `input.data must be ${size} finite numbers (row-major) for shape [${shape.join(', ')}]`,
    );
  }
  return { kind: 'tensor', shape: [...shape], data: [...data] };
}
