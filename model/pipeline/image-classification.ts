/** The image-classification task: image folders or CIFAR-10 batches -> class probabilities. */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { MscrError } from '../../connectors/errors.ts';
import type { ImagePreprocessing, ModelManifest } from '../../connectors/ms/manifest.ts';
import {
  fingerprintImages,
  LABELS_FILE,
  loadCifarBinary,
  loadImageFolder,
  resolveDataPath,
  splitStratified,
  type ImageDataset,
} from '../data/index.ts';
import { argmaxRows, classificationReport, predictionProfile } from '../evaluation/index.ts';
import {
  augmentationFromNames,
  imageNormalizationFromName,
  oneHotLabels,
  toImageTensor,
} from '../features/index.ts';
import type { ExtraImage } from '../../connectors/mr/index.ts';
import { decodeImage } from '../../connectors/ms/decode-image.ts';
import type { ClassifierReport, DataOptions, Task } from './task.ts';

type LoadSize = { height?: number; width?: number; channels?: 1 | 3; limit?: number };

/** One source: a folder with labels.csv (or that file), a folder of CIFAR-10 `.bin` batches, or one `.bin`. */
async function loadImageSource(source: string, size: LoadSize): Promise<ImageDataset> {
  const path = resolveDataPath(source);
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new MscrError('not_found', `data ${source} does not exist`);
  if (info.isFile()) {
    if (basename(path) === LABELS_FILE) return loadImageFolder(dirname(path), size);
    if (path.endsWith('.bin'))
      return loadCifarBinary([path], { ...(size.limit ? { limit: size.limit } : {}) });
    throw new MscrError(
      'bad_data',
      `${source}: expected an image folder with ${LABELS_FILE} or CIFAR-10 .bin batches`,
    );
  }
  const hasLabels = await stat(join(path, LABELS_FILE)).then(
    (s) => s.isFile(),
    () => false,
  );
  if (hasLabels) return loadImageFolder(path, size);
  return loadCifarBinary(path, { ...(size.limit ? { limit: size.limit } : {}) });
}

/** Loads and concatenates every source; their class names must agree. */
export async function loadImages(sources: string[], size: LoadSize): Promise<ImageDataset> {
  if (sources.length === 0) throw new MscrError('config', 'no data given: pass --data <folder>');
  const parts: ImageDataset[] = [];
  for (const source of sources) parts.push(await loadImageSource(source, size));
  const first = parts[0] as ImageDataset;
  if (parts.length === 1) return first;
  for (const part of parts.slice(1)) {
    if (
      part.height !== first.height ||
      part.width !== first.width ||
      part.channels !== first.channels
    ) {
      throw new MscrError(
        'bad_data',
        `${part.sources.join(', ')}: images are ${part.height}x${part.width}x${part.channels}, but ${first.sources.join(', ')} has ${first.height}x${first.width}x${first.channels}; pass --image-size`,
      );
    }
    if (JSON.stringify(part.classNames) !== JSON.stringify(first.classNames)) {
      throw new MscrError(
        'bad_data',
        `${part.sources.join(', ')} has classes ${part.classNames.join(',')}, but ${first.sources.join(', ')} has ${first.classNames.join(',')}`,
      );
    }
  }
  const count = parts.reduce((n, p) => n + p.count, 0);
  const pixels = new Uint8Array(parts.reduce((n, p) => n + p.pixels.length, 0));
  const labels = new Int32Array(count);
  let pixelOffset = 0;
  let labelOffset = 0;
  for (const part of parts) {
    pixels.set(part.pixels, pixelOffset);
    labels.set(part.labels, labelOffset);
    pixelOffset += part.pixels.length;
    labelOffset += part.count;
  }
  const merged = { ...first, pixels, labels, count, sources: parts.flatMap((p) => p.sources) };
  return { ...merged, fingerprint: fingerprintImages(merged) };
}

/** Decodes labelled extra images (production feedback) to the dataset's size and appends them (to the training split only). */
async function withExtraImages(
  dataset: ImageDataset,
  extra: readonly ExtraImage[],
): Promise<ImageDataset> {
  if (extra.length === 0) return dataset;
  const { height, width, channels, classNames } = dataset;
  const size = height * width * channels;
  const pixels = new Uint8Array(dataset.pixels.length + extra.length * size);
  pixels.set(dataset.pixels);
  const labels = new Int32Array(dataset.count + extra.length);
  labels.set(dataset.labels);
  for (const [i, image] of extra.entries()) {
    const label = classNames.indexOf(image.label);
    if (label < 0) {
      throw new MscrError(
        'bad_data',
        `${image.source}: class ${JSON.stringify(image.label)} is not in the data (${classNames.join(', ')})`,
      );
    }
    const decoded = await decodeImage(image.bytes, {
      height,
      width,
      channels,
      source: image.source,
    });
    pixels.set(decoded, (dataset.count + i) * size);
    labels[dataset.count + i] = label;
  }
  const merged = {
    ...dataset,
    pixels,
    labels,
    count: dataset.count + extra.length,
    sources: [...dataset.sources, `${extra.length} feedback images`],
  };
  return { ...merged, fingerprint: fingerprintImages(merged) };
}

/** Images as tensors for a version: its normalization (toImageTensor checks the size), its class numbering. */
function expressImages(dataset: ImageDataset, manifest: ModelManifest) {
  const spec = manifest.preprocessing as ImagePreprocessing;
  const labels = manifest.labels ?? [];
  // The data may number its classes differently: match them to the model's by name.
  const indexInModel = dataset.classNames.map((name) => {
    const index = labels.indexOf(name);
    if (index < 0) {
      throw new MscrError(
        'bad_data',
        `class ${JSON.stringify(name)} of ${dataset.sources.join(', ')} is not one the model knows (${labels.join(', ')})`,
      );
    }
    return index;
  });
  const mapped = dataset.labels.map((label) => indexInModel[label] as number);
  return { x: toImageTensor(dataset, spec), y: oneHotLabels(mapped, labels.length) };
}

interface ImageHeldOut {
  readonly kind: 'image';
  readonly dataset: ImageDataset;
}

export const imageClassification: Task = {
  task: 'image-classification',
  loss: 'categoricalCrossentropy',
  trainingMetrics: ['accuracy'],

  async prepare(options: DataOptions) {
    const base = await loadImages(options.sources, {
      ...(options.imageSize ?? {}),
      ...(options.limit ? { limit: options.limit } : {}),
    });
    const extra = options.extraImages ?? [];
    const classes = base.classNames.length;
    if (classes < 2)
      throw new MscrError(
        'bad_data',
        `${base.sources.join(', ')} has ${classes} class; a classifier needs at least 2`,
      );
    // The held-out split is drawn from the base data alone, before feedback joins: feedback
    // is production's word, and whoever can post it must not be able to choose the images
    // the retraining gate judges a candidate on. Feedback only ever adds training examples.
    const split = splitStratified(base, options.testFraction, options.seed);
    const train = await withExtraImages(split.train, extra);
    const test = split.test;
    const dataset = {
      sources: train.sources,
      count: base.count + extra.length,
      fingerprint:
        extra.length === 0
          ? base.fingerprint
          : createHash('sha256').update(`${base.fingerprint}:${train.fingerprint}`).digest('hex'),
    };
    const strategy = imageNormalizationFromName(options.normalization ?? 'rescale');
    const preprocessing = strategy.fit(train);
    const trainFeatures = strategy.transform(train, preprocessing);
    const testFeatures = strategy.transform(test, preprocessing);
    const augmenter = options.augment?.length
      ? augmentationFromNames(options.augment, { seed: options.seed })
      : undefined;
    const { height, width, channels } = preprocessing;
    return {
      xTrain: trainFeatures.x,
      yTrain: trainFeatures.y,
      xTest: testFeatures.x,
      yTest: testFeatures.y,
      architectureInput: { task: 'image-classification', height, width, channels, classes },
      preprocessing,
      inputs: [{ name: 'image', dtype: 'float32', shape: [-1, height, width, channels] }],
      outputs: [{ name: 'probabilities', dtype: 'float32', shape: [-1, classes] }],
      labels: base.classNames,
      ...(augmenter ? { augment: augmenter.apply, augmentation: augmenter.names } : {}),
      fingerprint: dataset.fingerprint,
      sources: dataset.sources,
      summary: `${dataset.count} images ${height}x${width}x${channels}, ${classes} classes, ${train.count} train / ${test.count} held out`,
      heldOut: { kind: 'image', dataset: test } satisfies ImageHeldOut,
    };
  },

  expressHeldOut(heldOut, manifest) {
    const { dataset } = heldOut as ImageHeldOut;
    return { ...expressImages(dataset, manifest), summary: `${dataset.count} held-out images` };
  },

  async prepareEvaluation(manifest: ModelManifest, options) {
    const spec = manifest.preprocessing as ImagePreprocessing;
    const dataset = await loadImages(options.sources, {
      height: spec.height,
      width: spec.width,
      channels: spec.channels,
      ...(options.limit ? { limit: options.limit } : {}),
    });
    return {
      ...expressImages(dataset, manifest),
      summary: `${dataset.count} images from ${dataset.sources.join(', ')}`,
    };
  },

  async score(model, x, y, manifest) {
    const labels = manifest.labels ?? [];
    const probabilities = tf.tidy(() => model.predict(x, { batchSize: 64 }) as tf.Tensor);
    const [probs, truthOneHot] = await Promise.all([probabilities.data(), y.data()]);
    probabilities.dispose();
    const k = labels.length;
    const report = classificationReport(argmaxRows(truthOneHot, k), argmaxRows(probs, k), labels);
    const classifier: ClassifierReport = { kind: 'classification', labels, ...report };
    return {
      metrics: { accuracy: report.accuracy, macroF1: report.macroF1 },
      reference: predictionProfile(probs, k),
      report: classifier,
    };
  },
};
