/**
 * From a model's own signature and the importer's flags to the manifest fields that make the
 * service's conveniences work: the task, the served input shape (dynamic batch, every other
 * dimension fixed), labels and preprocessing. Shared by the ONNX and TF.js importers.
 */
import { yoloLayoutOf, type DetectionSpec } from '../../connectors/ms/detection/index.ts';
import { MscrError } from '../../connectors/errors.ts';
import type {
  ImagePreprocessing,
  ModelTask,
  PreprocessingSpec,
} from '../../connectors/ms/manifest.ts';

/** The preprocessing flags of `mscr models import`. */
export interface ImageOptions {
  /** `--image-size 224` or `--image-size 224x160` (height x width). */
  size?: { height: number; width: number };
  layout?: 'NHWC' | 'NCHW';
  /** `--scale 1/255`: the factor pixels 0..255 are multiplied by. */
  scale?: number;
  mean?: number[];
  std?: number[];
}

export interface DescribeOptions {
  task?: ModelTask;
  labels?: string[];
  image?: ImageOptions;
  features?: string[];
}

export interface Described {
  task: ModelTask;
  inputShape: number[];
  labels?: string[];
  preprocessing: PreprocessingSpec;
}

function refuse(message: string): MscrError {
  return new MscrError('bad_data', message);
}

/** `1/255`, `0.0039`, `1` -> a positive number. */
export function parseScale(text: string): number {
  // No regex: Number() per part; "1/255" is the usual spelling.
  const parts = text.split('/').map((part) => (part.trim() === '' ? NaN : Number(part)));
  const [numerator, denominator = 1] = parts;
  const value = parts.length <= 2 && numerator !== undefined ? numerator / denominator : NaN;
  if (!Number.isFinite(value) || value <= 0) {
    throw new MscrError(
      'bad_request',
      `--scale must be a positive number or a fraction such as 1/255, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/** The task a signature suggests when `--task` is not given. */
function guessTask(inputShape: number[], outputShape: number[], hasLabels: boolean): ModelTask {
  if (inputShape.length === 4) return 'image-classification';
  if (inputShape.length === 2) {
    const width = outputShape[1];
    if (outputShape.length === 2 && width !== undefined && width > 1) {
      return 'tabular-classification';
    }
    if (hasLabels) return 'tabular-classification';
    return 'regression';
  }
  return 'raw';
}

function imageShape(
  shape: number[],
  options: ImageOptions,
): { shape: number[]; spec: Omit<ImagePreprocessing, 'normalization'> } {
  if (shape.length !== 4) {
    throw refuse(
      `an image model takes [batch, height, width, channels] or [batch, channels, height, width]; this one takes [${shape.join(', ')}]`,
    );
  }
  const [, d1, , d3] = shape as [number, number, number, number];
  const layout =
    options.layout ?? (d1 === 1 || d1 === 3 ? (d3 === 1 || d3 === 3 ? 'NHWC' : 'NCHW') : 'NHWC');
  const axes = layout === 'NCHW' ? { c: 1, h: 2, w: 3 } : { h: 1, w: 2, c: 3 };
  const out = [...shape];
  const fill = (axis: number, value: number | undefined, what: string): number => {
    const dim = shape[axis] as number;
    if (value === undefined) {
      if (dim === -1)
        throw refuse(
          `the model's ${what} is dynamic; pass --image-size (and --layout) so mscr knows what to resize images to`,
        );
      return dim;
    }
    if (dim !== -1 && dim !== value) {
      throw refuse(
        `--image-size gives ${what} ${value}, which does not fit the model, whose ${what} is ${dim} (${layout} [${shape.join(', ')}])`,
      );
    }
    out[axis] = value;
    return value;
  };
  const height = fill(axes.h, options.size?.height, 'height');
  const width = fill(axes.w, options.size?.width, 'width');
  const channels = shape[axes.c] === -1 ? 3 : (shape[axes.c] as number);
  out[axes.c] = channels;
  if (channels !== 1 && channels !== 3) {
    throw refuse(
      `the model takes ${channels} channels on axis ${axes.c} (${layout}); images have 1 or 3 (try --layout ${layout === 'NCHW' ? 'NHWC' : 'NCHW'})`,
    );
  }
  return {
    shape: out,
    spec: {
      kind: 'image',
      height,
      width,
      channels,
      ...(options.scale === undefined ? {} : { scale: options.scale }),
      ...(options.layout === undefined && layout === 'NHWC' ? {} : { layout }),
    },
  };
}

/**
 * Fixes the served input shape and preprocessing from the model's signature and the flags.
 * Refuses (`bad_data`) what cannot serve: a fixed batch above 1, a dynamic dimension other
 * than the batch that no flag fixes, flags that contradict the model.
 */
export function describe(
  inputShape: number[],
  outputShape: number[],
  modelLabels: string[] | undefined,
  options: DescribeOptions,
): Described {
  if (inputShape.length === 0)
    throw refuse(
      'the model input is a scalar; mscr serves batches: the first dimension is the batch',
    );
  const batch = inputShape[0] as number;
  if (batch > 1) {
    throw refuse(
      `the model's batch dimension is fixed at ${batch}; export it with a dynamic batch (or batch 1) so single requests can serve`,
    );
  }
  const labels = options.labels ?? modelLabels;
  const task = options.task ?? guessTask(inputShape, outputShape, labels !== undefined);
  const image = options.image ?? {};
  const hasImageFlags = Object.values(image).some((v) => v !== undefined);
  let shape = [...inputShape];
  let preprocessing: PreprocessingSpec = { kind: 'none' };

  const imageTask = task === 'image-classification' || task === 'object-detection';
  if (imageTask || (hasImageFlags && inputShape.length === 4)) {
    const { shape: filled, spec } = imageShape(inputShape, image);
    shape = filled;
    const { mean, std } = image;
    if ((mean === undefined) !== (std === undefined))
      throw new MscrError('bad_request', '--mean and --std go together');
    for (const [flag, values] of [
      ['--mean', mean],
      ['--std', std],
    ] as const) {
      if (values !== undefined && values.length !== spec.channels) {
        throw new MscrError(
          'bad_request',
          `${flag} needs ${spec.channels} numbers (one per channel), got ${values.length}`,
        );
      }
    }
    if (std?.some((s) => !(s > 0)))
      throw new MscrError('bad_request', '--std values must be positive');
    preprocessing = {
      ...spec,
      normalization: mean && std ? { type: 'standardize', mean, std } : { type: 'rescale' },
    };
  } else if (hasImageFlags) {
    throw new MscrError(
      'bad_request',
      `image flags (--image-size, --layout, --scale, --mean, --std) need a model that takes [batch, H, W, C] or [batch, C, H, W]; this one takes [${inputShape.join(', ')}]`,
    );
  }

  if (
    task === 'tabular-classification' ||
    task === 'regression' ||
    options.features !== undefined
  ) {
    if (inputShape.length !== 2) {
      throw refuse(
        `a tabular model takes [batch, features]; this one takes [${inputShape.join(', ')}]`,
      );
    }
    const width = inputShape[1] as number;
    const columns =
      options.features ??
      (width > 0 ? Array.from({ length: width }, (_, i) => `f${i}`) : undefined);
    if (columns === undefined)
      throw refuse('the number of features is dynamic; pass --features a,b,c to fix it');
    if (width !== -1 && columns.length !== width) {
      throw new MscrError(
        'bad_request',
        `--features names ${columns.length} features; the model takes ${width}`,
      );
    }
    if (new Set(columns).size !== columns.length)
      throw new MscrError('bad_request', '--features repeats a name');
    shape = [batch, columns.length];
    preprocessing = { kind: 'features', columns };
  }

  const dynamic = shape.slice(1).findIndex((d) => d === -1);
  if (dynamic >= 0) {
    throw refuse(
      `dimension ${dynamic + 1} of the input [${inputShape.join(', ')}] is dynamic and no flag fixes it; mscr serves a dynamic batch with fixed other dimensions (re-export with fixed shapes, or pass --image-size / --features)`,
    );
  }

  let finalLabels = options.labels;
  if (task === 'object-detection') {
    finalLabels = labels;
    if (finalLabels === undefined)
      throw new MscrError(
        'bad_request',
        'an object detector needs its class names: pass --labels names.txt (one per line, in the output order)',
      );
  }
  if (task === 'image-classification' || task === 'tabular-classification') {
    finalLabels = labels;
    const classes = outputShape[outputShape.length - 1] ?? -1;
    if (outputShape.length !== 2) {
      throw refuse(
        `a classifier's served output is [batch, classes]; this one is [${outputShape.join(', ')}] (choose another with --output)`,
      );
    }
    if (finalLabels !== undefined && classes !== -1 && finalLabels.length !== classes) {
      throw new MscrError('bad_request', `${finalLabels.length} labels for ${classes} classes`);
    }
    if (finalLabels === undefined) {
      if (classes === -1) throw refuse('the number of classes is dynamic; pass --labels');
      finalLabels = Array.from({ length: classes }, (_, i) => String(i));
    }
  }
  return {
    task,
    inputShape: shape,
    ...(finalLabels === undefined ? {} : { labels: finalLabels }),
    preprocessing,
  };
}

/**
 * How an imported detector's output is read (the manifest's `detection`): the YOLO layout its
 * served output shape has for its number of classes, `[1, 4 + C, boxes]` (YOLOv8) or
 * `[1, boxes, 5 + C]` (YOLOv5); a shape neither fits is refused with what was expected.
 */
export function detectionOf(outputShape: readonly number[], classes: number): DetectionSpec {
  try {
    return { layout: yoloLayoutOf([1, ...outputShape.slice(1)], classes) };
  } catch (error) {
    throw new MscrError(
      'bad_data',
      `${(error as Error).message}: check --labels (one line per class) or choose the box output with --output`,
      { cause: error },
    );
  }
}
