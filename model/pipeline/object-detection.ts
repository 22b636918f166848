/**
 * The object-detection task: a COCO JSON or YOLO txt set -> mscr's grid detector (boxes,
 * classes, scores), scored by COCO mAP. Images are stretched to the model input (as the
 * Service stretches a posted image), pixels divided by 255, boxes encoded on the grid.
 *
 * The training targets are the grid encoding (features/detection-targets.ts); the held-out
 * targets are the true boxes themselves, `[images, most boxes, 5]` rows of (class, x, y, w, h)
 * in input pixels (class -1 pads), so mAP is computed on every box, also where two centres
 * share a cell.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import type { ExtraDetection } from '../../connectors/mr/index.ts';
import { decodeImage, readImageSize } from '../../connectors/ms/decode-image.ts';
import {
  decodeDetections,
  GRID_BOX_CHANNELS,
  type DetectionSpec,
} from '../../connectors/ms/detection/index.ts';
import type { ImagePreprocessing, ModelManifest } from '../../connectors/ms/manifest.ts';
import { imagePixelsToInput } from '../../connectors/ms/preprocessing.ts';
import { GRID_STRIDE } from '../architectures/grid-detector.ts';
import { boxProblem, clipBox } from '../data/coco.ts';
import { loadDetections } from '../data/detection-folder.ts';
import {
  countObjects,
  fingerprintDetections,
  type DetectionDataset,
  type DetectionImage,
} from '../data/detection-types.ts';
import { mapWithConcurrency } from '../data/concurrency.ts';
import { createRandom, shuffleInPlace } from '../data/random.ts';
import { detectionReport, type Detection, type GroundTruth } from '../evaluation/index.ts';
import {
  encodeGridTargets,
  gridDetectionLoss,
  type InputBox,
} from '../features/detection-targets.ts';
import type { DataOptions, DetectorReport, Task } from './task.ts';

/** Default model input: 64x64 RGB, an 8x8 grid. */
export const DEFAULT_DETECTION_SIZE = 64;
/** Boxes scoring below this are not scored (COCO evaluations keep nearly every box). */
export const EVALUATION_SCORE_THRESHOLD = 0.001;
const TRUTH_COLUMNS = 5;

/** Images decoded to the input size, and their boxes in the images' own pixels. */
interface DecodedSet {
  pixels: Uint8Array;
  count: number;
  height: number;
  width: number;
  images: Pick<DetectionImage, 'width' | 'height' | 'objects'>[];
  classNames: string[];
}

interface DetectionHeldOut extends DecodedSet {
  readonly kind: 'detection';
}

async function decodeSet(
  images: readonly DetectionImage[],
  classNames: string[],
  size: { height: number; width: number },
): Promise<DecodedSet> {
  const { height, width } = size;
  const perImage = height * width * 3;
  const pixels = new Uint8Array(images.length * perImage);
  await mapWithConcurrency(images, 8, async (image, i) => {
    const decoded = await decodeImage(image.bytes, {
      height,
      width,
      channels: 3,
      source: image.name,
    });
    pixels.set(decoded, i * perImage);
  });
  return {
    pixels,
    count: images.length,
    height,
    width,
    images: images.map(({ width: w, height: h, objects }) => ({ width: w, height: h, objects })),
    classNames,
  };
}

/** Each image's boxes in the input's pixels, with class indices in `labels`' numbering. */
function inputBoxes(
  set: DecodedSet,
  input: { width: number; height: number },
  labels: string[],
): InputBox[][] {
  const toModel = set.classNames.map((name) => {
    const index = labels.indexOf(name);
    if (index < 0) {
      throw new MscrError(
        'bad_data',
        `class ${JSON.stringify(name)} of the data is not one the model knows (${labels.join(', ')})`,
      );
    }
    return index;
  });
  return set.images.map((image) => {
    const sx = input.width / image.width;
    const sy = input.height / image.height;
    return image.objects.map(({ box: [x, y, w, h], category }) => ({
      box: [x * sx, y * sy, w * sx, h * sy] as const,
      category: toModel[category] as number,
    }));
  });
}

/** The true boxes as a `[images, most boxes, 5]` tensor of (class, x, y, w, h); class -1 pads. */
function truthTensor(boxes: InputBox[][]): tf.Tensor3D {
  const most = Math.max(1, ...boxes.map((b) => b.length));
  const values = new Float32Array(boxes.length * most * TRUTH_COLUMNS).fill(-1);
  boxes.forEach((image, i) =>
    image.forEach(({ box, category }, j) =>
      values.set([category, ...box], (i * most + j) * TRUTH_COLUMNS),
    ),
  );
  return tf.tensor3d(values, [boxes.length, most, TRUTH_COLUMNS]);
}

function imageSpec(manifest: Pick<ModelManifest, 'preprocessing'>): ImagePreprocessing {
  const spec = manifest.preprocessing;
  if (spec.kind !== 'image') {
    throw new MscrError('bad_data', `a detector needs image preprocessing, not ${spec.kind}`);
  }
  if (spec.channels !== 3)
    throw new MscrError('bad_data', 'mscr detectors take RGB images (3 channels)');
  return spec;
}

/** A decoded set as a version's input tensor and truth tensor (resized if its size differs). */
function expressSet(set: DecodedSet, manifest: ModelManifest): { x: tf.Tensor; y: tf.Tensor } {
  const spec = imageSpec(manifest);
  let pixels = set.pixels;
  if (spec.height !== set.height || spec.width !== set.width) {
    // Another version's input size: resize the decoded held-out images (boxes scale below).
    const resized = tf.tidy(() =>
      tf.image
        .resizeBilinear(tf.tensor4d(set.pixels, [set.count, set.height, set.width, 3], 'float32'), [
          spec.height,
          spec.width,
        ])
        .round()
        .clipByValue(0, 255),
    );
    pixels = Uint8Array.from(resized.dataSync());
    resized.dispose();
  }
  const x = tf.tensor4d(imagePixelsToInput(pixels, spec), [set.count, spec.height, spec.width, 3]);
  const y = truthTensor(
    inputBoxes(set, { width: spec.width, height: spec.height }, manifest.labels ?? []),
  );
  return { x, y };
}

/** Feedback images with their boxes as dataset images; a box outside its image is an error. */
async function feedbackImages(
  extra: readonly ExtraDetection[],
  classNames: string[],
): Promise<DetectionImage[]> {
  return mapWithConcurrency(extra, 4, async (item) => {
    const size = await readImageSize(item.bytes, { source: item.source });
    const objects = item.boxes.map(({ box, label }) => {
      const category = classNames.indexOf(label);
      if (category < 0) {
        throw new MscrError(
          'bad_data',
          `${item.source}: class ${JSON.stringify(label)} is not in the data (${classNames.join(', ')})`,
        );
      }
      const wrong = boxProblem(box, size.width, size.height);
      if (wrong) throw new MscrError('bad_data', `${item.source}: ${wrong}`);
      return { box: clipBox(box, size.width, size.height), category };
    });
    return {
      name: item.source,
      bytes: item.bytes,
      width: size.width,
      height: size.height,
      objects,
    };
  });
}

/** A seeded split of the images: the first `round(n * fraction)` of a shuffle are held out. */
function splitImages(dataset: DetectionDataset, fraction: number, seed: number) {
  const n = dataset.images.length;
  if (n < 2)
    throw new MscrError(
      'bad_data',
      `${dataset.sources.join(', ')} has ${n} image; need at least 2`,
    );
  const order = shuffleInPlace(
    Array.from({ length: n }, (_, i) => i),
    createRandom(seed),
  );
  const held = Math.min(n - 1, Math.max(1, Math.round(n * fraction)));
  const pick = (indices: number[]) =>
    indices.sort((a, b) => a - b).map((i) => dataset.images[i] as DetectionImage);
  return { test: pick(order.slice(0, held)), train: pick(order.slice(held)) };
}

function gridOf(height: number, width: number) {
  if (height % GRID_STRIDE !== 0 || width % GRID_STRIDE !== 0) {
    throw new MscrError(
      'config',
      `a grid detector's input sides must be multiples of ${GRID_STRIDE}, got ${height}x${width}`,
    );
  }
  return { rows: height / GRID_STRIDE, cols: width / GRID_STRIDE };
}

export const objectDetection: Task = {
  task: 'object-detection',
  loss: gridDetectionLoss(),
  trainingMetrics: [],

  async prepare(options: DataOptions) {
    let base = await loadDetections(options.sources);
    if (options.limit && options.limit < base.images.length) {
      const images = base.images.slice(0, options.limit);
      base = {
        ...base,
        images,
        fingerprint: fingerprintDetections({ images, classNames: base.classNames }),
      };
    }
    const { classNames } = base;
    const classes = classNames.length;
    const height = options.imageSize?.height ?? DEFAULT_DETECTION_SIZE;
    const width = options.imageSize?.width ?? DEFAULT_DETECTION_SIZE;
    const { rows, cols } = gridOf(height, width);
    // As for classifiers, the held-out images come from the base data alone: feedback only
    // ever adds training examples, so whoever posts it cannot choose what the gate judges on.
    const split = splitImages(base, options.testFraction, options.seed);
    const extra = await feedbackImages(options.extraDetections ?? [], classNames);
    const trainImages = [...split.train, ...extra];
    const [train, test] = await Promise.all([
      decodeSet(trainImages, classNames, { height, width }),
      decodeSet(split.test, classNames, { height, width }),
    ]);
    const preprocessing: ImagePreprocessing = {
      kind: 'image',
      height,
      width,
      channels: 3,
      normalization: { type: 'rescale' },
    };
    const input = { width, height };
    const targets = encodeGridTargets(inputBoxes(train, input, classNames), {
      rows,
      cols,
      classes,
      width,
      height,
    });
    const fingerprint =
      extra.length === 0
        ? base.fingerprint
        : createHash('sha256')
            .update(`${base.fingerprint}:${fingerprintDetections({ images: extra, classNames })}`)
            .digest('hex');
    const detection: DetectionSpec = { layout: 'grid' };
    const channels = GRID_BOX_CHANNELS + classes;
    return {
      xTrain: tf.tensor4d(imagePixelsToInput(train.pixels, preprocessing), [
        train.count,
        height,
        width,
        3,
      ]),
      yTrain: tf.tensor4d(targets, [train.count, rows, cols, channels]),
      xTest: tf.tensor4d(imagePixelsToInput(test.pixels, preprocessing), [
        test.count,
        height,
        width,
        3,
      ]),
      yTest: truthTensor(inputBoxes(test, input, classNames)),
      architectureInput: { task: 'object-detection', height, width, channels: 3, classes },
      preprocessing,
      inputs: [{ name: 'image', dtype: 'float32', shape: [-1, height, width, 3] }],
      outputs: [{ name: 'detections', dtype: 'float32', shape: [-1, rows, cols, channels] }],
      labels: classNames,
      detection,
      fingerprint,
      sources:
        extra.length > 0 ? [...base.sources, `${extra.length} feedback images`] : base.sources,
      summary: `${base.images.length + extra.length} images (${countObjects(base.images) + countObjects(extra)} objects, ${classes} classes) at ${height}x${width} on a ${rows}x${cols} grid, ${train.count} train / ${test.count} held out${extra.length > 0 ? ` (${extra.length} from feedback, training only)` : ''}`,
      heldOut: { kind: 'detection', ...test } satisfies DetectionHeldOut,
    };
  },

  expressHeldOut(heldOut, manifest) {
    const set = heldOut as DetectionHeldOut;
    return { ...expressSet(set, manifest), summary: `${set.count} held-out images` };
  },

  async prepareEvaluation(manifest: ModelManifest, options) {
    const spec = imageSpec(manifest);
    let dataset = await loadDetections(options.sources);
    if (options.limit && options.limit < dataset.images.length) {
      dataset = { ...dataset, images: dataset.images.slice(0, options.limit) };
    }
    const set = await decodeSet(dataset.images, dataset.classNames, spec);
    return {
      ...expressSet(set, manifest),
      summary: `${set.count} images (${countObjects(dataset.images)} objects) from ${dataset.sources.join(', ')}`,
    };
  },

  async score(model, x, y, manifest) {
    const labels = manifest.labels ?? [];
    const spec = imageSpec(manifest);
    const output = tf.tidy(() => model.predict(x, { batchSize: 64 }) as tf.Tensor);
    const [values, truthValues] = await Promise.all([output.data(), y.data()]);
    const shape = output.shape;
    output.dispose();
    const boxes = decodeDetections(
      manifest.detection ?? { layout: 'grid' },
      values as Float32Array,
      shape,
      {
        input: { width: spec.width, height: spec.height },
        classes: labels.length,
        scoreThreshold: EVALUATION_SCORE_THRESHOLD,
      },
    );
    const detections: Detection[] = boxes.flatMap((image, i) =>
      image.map((d) => ({
        image: i,
        label: labels[d.classIndex] ?? String(d.classIndex),
        box: d.box,
        score: d.score,
      })),
    );
    const [images, most] = y.shape as [number, number, number];
    const truths: GroundTruth[] = [];
    for (let i = 0; i < images; i++) {
      for (let j = 0; j < most; j++) {
        const at = (i * most + j) * TRUTH_COLUMNS;
        const category = truthValues[at] as number;
        if (category < 0) continue;
        const box = Array.from(truthValues.subarray(at + 1, at + TRUTH_COLUMNS)) as [
          number,
          number,
          number,
          number,
        ];
        truths.push({ image: i, label: labels[category] ?? String(category), box });
      }
    }
    const report = detectionReport(truths, detections);
    const detector: DetectorReport = {
      kind: 'detection',
      ...report,
      images,
      objects: truths.length,
      scoreThreshold: EVALUATION_SCORE_THRESHOLD,
    };
    return { metrics: { map: report.map, map50: report.map50 }, reference: {}, report: detector };
  },
};
