/**
 * Feedback for detectors: the true boxes of an image (`FeedbackRequest.boxes`, SR connector),
 * checked strictly before anything is stored: at most `MAX_FEEDBACK_BOXES`, each
 * `{"box": [x, y, width, height], "label": "..."}` with finite numbers, a positive size, a
 * label the model has, and inside the image the boxes are about (the posted image's pixels).
 */
import { MscrError } from '../../connectors/errors.ts';
import { readImageSize } from '../../connectors/ms/decode-image.ts';
import type { ModelManifest } from '../../connectors/ms/manifest.ts';
import type { FeedbackInput, LabelledBox } from '../../connectors/sr/index.ts';

/** Most boxes one piece of feedback may carry. */
export const MAX_FEEDBACK_BOXES = 100;

/** A box may reach this far (in pixels) past the image's edge: rounding, not a mistake. */
const EDGE_TOLERANCE = 0.5;

function bad(message: string): MscrError {
  return new MscrError('bad_request', message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The shape of `boxes` (not yet its labels or the image): a `bad_request` naming the box. */
export function parseLabelledBoxes(value: unknown): LabelledBox[] {
  if (!Array.isArray(value)) {
    throw bad('boxes must be a list of {"box": [x, y, width, height], "label": "..."}');
  }
  if (value.length > MAX_FEEDBACK_BOXES) {
    throw bad(`boxes has ${value.length} boxes; at most ${MAX_FEEDBACK_BOXES} per image`);
  }
  return value.map((item: unknown, i) => {
    const where = `boxes[${i}]`;
    if (!isObject(item))
      throw bad(`${where} must be {"box": [x, y, width, height], "label": "..."}`);
    const extra = Object.keys(item).filter((key) => key !== 'box' && key !== 'label');
    if (extra.length > 0) {
      throw bad(
        `${where} has unknown field ${JSON.stringify((extra[0] as string).slice(0, 40))}; allowed: box, label`,
      );
    }
    const { box, label } = item;
    if (
      !Array.isArray(box) ||
      box.length !== 4 ||
      !box.every((n) => typeof n === 'number' && Number.isFinite(n))
    ) {
      throw bad(
        `${where}.box must be 4 finite numbers [x, y, width, height] in the image's pixels`,
      );
    }
    const [x, y, w, h] = box as [number, number, number, number];
    if (w <= 0 || h <= 0)
      throw bad(`${where}.box has width ${w} and height ${h}; both must be positive`);
    if (typeof label !== 'string' || label === '') throw bad(`${where}.label must be a class name`);
    return { box: [x, y, w, h], label };
  });
}

/** Every box's label is one of the detector's labels. */
export function checkBoxLabels(boxes: readonly LabelledBox[], manifest: ModelManifest): void {
  const labels = manifest.labels ?? [];
  boxes.forEach(({ label }, i) => {
    if (!labels.includes(label)) {
      const shown = labels.slice(0, 50).join(', ');
      throw bad(
        `boxes[${i}].label ${JSON.stringify(label.slice(0, 64))} is not one of model ${manifest.name}'s labels: ${shown}${labels.length > 50 ? ', ...' : ''}`,
      );
    }
  });
}

/**
 * The boxes lie inside the image they are about: the stored input, which must be an image
 * (`remembered`: the input is the service's record of a prediction, or there is none).
 */
export async function checkBoxesInImage(
  boxes: readonly LabelledBox[],
  input: FeedbackInput | undefined,
  remembered: boolean,
): Promise<void> {
  if (input?.kind !== 'image') {
    throw bad(
      remembered
        ? 'boxes are in the posted image\'s pixels, but this replica did not keep that image (too large, or forgotten): send it as "input": {"image_b64": "..."} with the boxes'
        : 'boxes need the image they are about: send the predictionId of a /detect answer, or the image as "input": {"image_b64": "..."}',
    );
  }
  const { width, height } = await readImageSize(input.bytes);
  boxes.forEach(({ box: [x, y, w, h] }, i) => {
    const outside =
      x < -EDGE_TOLERANCE ||
      y < -EDGE_TOLERANCE ||
      x + w > width + EDGE_TOLERANCE ||
      y + h > height + EDGE_TOLERANCE;
    if (outside) {
      throw bad(
        `boxes[${i}].box [${x}, ${y}, ${w}, ${h}] reaches outside the ${width}x${height} image; boxes are [x, y, width, height] in the image's pixels`,
      );
    }
  });
}
