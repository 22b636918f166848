/**
 * MS connector: what a published model *is*.
 *
 * A version folder holds the TF.js artifacts (`model.json`, weight shards) and this manifest,
 * written last. Readers trust a version only when its manifest parses, validates, and every
 * file it lists has the recorded size and sha256.
 */
import { MscrError } from '../errors.ts';
import { checkDetectionSpec, type DetectionSpec } from './detection/spec.ts';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_SCHEMA_VERSION = 1;

/** Tensor element types a manifest may declare (TF.js names). */
export type TensorDtype = 'float32' | 'int32' | 'bool';
export const TENSOR_DTYPES: readonly TensorDtype[] = ['float32', 'int32', 'bool'];

/** One named input or output. `-1` in `shape` means "any size", as the batch dimension does. */
export interface TensorSpec {
  name: string;
  dtype: TensorDtype;
  shape: number[];
}

export type ModelTask =
  | 'image-classification'
  | 'series-forecast'
  | 'regression'
  | 'tabular-classification'
  | 'object-detection'
  | 'raw';
export const MODEL_TASKS: readonly ModelTask[] = [
  'image-classification',
  'series-forecast',
  'regression',
  'tabular-classification',
  'object-detection',
  'raw',
];

/** The inference engines a version can be served on. */
export type EngineName = 'tfjs' | 'onnx';
export const ENGINE_NAMES: readonly EngineName[] = ['tfjs', 'onnx'];

/**
 * What made the version's primary artifact. `tfjs`: TensorFlow.js (`version` = tfjs version;
 * layers or graph model). `onnx`: an ONNX model (`version` = the onnxruntime that accepted it
 * at import, `opset` = its default-domain (`ai.onnx`) opset, 0 for a graph of ONNX-ML
 * operators only, `producer` = e.g. `skl2onnx 1.20.0`).
 */
export type ModelFramework =
  | { name: 'tfjs'; version: string; format: 'layers-model' | 'graph-model' }
  | { name: 'onnx'; version: string; format: 'onnx'; opset: number; producer?: string };

/**
 * One engine's form of the version: the file it loads and, for ONNX, which graph input and
 * output the service feeds and reads (default: the manifest's `inputs[0]` / `outputs[0]`
 * names for the framework's own artifact, the graph's first input and output otherwise).
 */
export interface EngineArtifact {
  file: string;
  input?: string;
  output?: string;
}

/** The file each framework's own artifact has when `artifacts` does not say. */
export const DEFAULT_ARTIFACT_FILE: Record<EngineName, string> = {
  tfjs: 'model.json',
  onnx: 'model.onnx',
};

/** How raw pixels become the model's input. Applied identically in training and serving. */
export interface ImagePreprocessing {
  kind: 'image';
  height: number;
  width: number;
  channels: 1 | 3;
  /** Pixel values 0..255 are first divided by 255, then normalised per channel. */
  normalization:
    | { type: 'rescale' } // x / 255
    | { type: 'standardize'; mean: number[]; std: number[] }; // (x / 255 - mean[c]) / std[c]
  /**
   * Imported models: the factor pixels 0..255 are multiplied by before normalisation, in place
   * of 1/255 (e.g. 1 for a model that takes raw pixels). Absent = 1/255.
   */
  scale?: number;
  /** Imported models: channels last (`NHWC`, TF.js, Keras; the default) or first (`NCHW`, PyTorch). */
  layout?: 'NHWC' | 'NCHW';
}

/** How a table of numeric rows becomes windows, and how the target is scaled back. */
export interface SeriesPreprocessing {
  kind: 'series';
  /** Column names in the order the model sees them. */
  columns: string[];
  /** Which column the model predicts. */
  target: string;
  /** Rows per input window (the MSC/R paper uses 7 days). */
  window: number;
  /** Per-column min-max scaling fitted on the training rows only. */
  scaler: { type: 'minmax'; min: number[]; max: number[] };
}

/** Plain numeric features (linear regression): per-column min-max scaling. */
export interface TabularPreprocessing {
  kind: 'tabular';
  columns: string[];
  target: string;
  scaler: { type: 'minmax'; min: number[]; max: number[] };
}

/**
 * Imported tabular models: named numeric features in the order of the model's input columns;
 * the model does any scaling itself (a scikit-learn pipeline converts with its scaler).
 */
export interface FeaturesPreprocessing {
  kind: 'features';
  columns: string[];
}

/** Imported models that take tensors as they are (`raw`, `object-detection` without image flags). */
export interface NoPreprocessing {
  kind: 'none';
}

export type PreprocessingSpec =
  | ImagePreprocessing
  | SeriesPreprocessing
  | TabularPreprocessing
  | FeaturesPreprocessing
  | NoPreprocessing;

/** What the model predicted on its held-out split: the drift observers' reference. */
export interface PredictionReference {
  /** Fraction of held-out predictions per class (classifiers). */
  classFrequencies?: number[];
  /** Histogram of top-1 confidence on ten equal bins over [0, 1] (classifiers). */
  confidenceHistogram?: number[];
  /** Mean and standard deviation of predictions (regressors). */
  predictionMean?: number;
  predictionStd?: number;
}

export interface FileEntry {
  sha256: string;
  size: number;
}

export interface ModelManifest {
  schemaVersion: typeof MANIFEST_SCHEMA_VERSION;
  name: string;
  version: number;
  framework: ModelFramework;
  /**
   * The engines that can serve this version and the file each loads. Absent (every manifest
   * before ONNX support): only the framework's own artifact, `model.json` for tfjs, `model.onnx`
   * for onnx. A tfjs version may list an extra `onnx` artifact (an export of the same network).
   */
  artifacts?: Partial<Record<EngineName, EngineArtifact>>;
  task: ModelTask;
  /** The builder that made the network, e.g. `cifar10-cnn`. */
  architecture: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Class names by output index (classifiers and detectors). */
  labels?: string[];
  preprocessing: PreprocessingSpec;
  /**
   * Detectors (`object-detection`): how the output is read as boxes. Absent on a detector
   * imported before the field existed: the layout is told from the output's shape.
   */
  detection?: DetectionSpec;
  /** Held-out metrics: accuracy, rmse, ... (numbers only, so they compare). */
  metrics: Record<string, number>;
  reference?: PredictionReference;
  training: {
    epochs: number;
    batchSize: number;
    trainSamples: number;
    testSamples: number;
    backend: string;
    durationMs: number;
    augmentation?: string[];
    seed?: number;
    [extra: string]: unknown;
  };
  data: {
    /** sha256 over the training data, in a stable order: same data, same fingerprint. */
    fingerprint: string;
    sources: string[];
  };
  createdAt: string;
  /** Every artifact file of the version except the manifest itself. */
  files: Record<string, FileEntry>;
}

/** A manifest before the store assigns its version and records its files. */
export type ManifestDraft = Omit<
  ModelManifest,
  'version' | 'files' | 'createdAt' | 'schemaVersion'
>;

const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** Model names are safe as a path segment and as an object-store prefix. */
export function validateModelName(name: string): string {
  if (!MODEL_NAME.test(name) || name.includes('..')) {
    throw new MscrError(
      'bad_request',
      `invalid model name ${JSON.stringify(typeof name === 'string' && name.length > 64 ? `${name.slice(0, 64)}...` : name)}: use 1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return name;
}

export function isVersionNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** Parses a version given as text (`"3"`); rejects `03`, `3.0`, `-1` and the like. */
export function parseVersion(text: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text) || !isVersionNumber(Number(text))) {
    throw new MscrError(
      'bad_request',
      `invalid version ${JSON.stringify(text)}: versions are positive integers`,
    );
  }
  return Number(text);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v));
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function checkTensorSpecs(value: unknown, field: string, problems: string[]): void {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${field} must be a non-empty array`);
    return;
  }
  value.forEach((spec: unknown, i) => {
    if (!isObject(spec)) return problems.push(`${field}[${i}] must be an object`);
    if (typeof spec.name !== 'string' || spec.name === '')
      problems.push(`${field}[${i}].name must be a string`);
    if (!TENSOR_DTYPES.includes(spec.dtype as TensorDtype)) {
      problems.push(`${field}[${i}].dtype must be one of ${TENSOR_DTYPES.join(', ')}`);
    }
    if (
      !isNumberArray(spec.shape) ||
      !spec.shape.every((d) => d === -1 || (Number.isInteger(d) && d > 0))
    ) {
      problems.push(`${field}[${i}].shape must be an array of positive integers or -1`);
    }
  });
}

function checkScaler(value: unknown, columns: number, field: string, problems: string[]): void {
  if (
    !isObject(value) ||
    value.type !== 'minmax' ||
    !isNumberArray(value.min) ||
    !isNumberArray(value.max)
  ) {
    problems.push(`${field} must be {type: "minmax", min: number[], max: number[]}`);
  } else if (value.min.length !== columns || value.max.length !== columns) {
    problems.push(`${field}.min and .max must have one entry per column (${columns})`);
  }
}

function checkPreprocessing(value: unknown, problems: string[]): void {
  if (!isObject(value)) {
    problems.push('preprocessing must be an object');
    return;
  }
  switch (value.kind) {
    case 'image': {
      for (const key of ['height', 'width'] as const) {
        if (!Number.isInteger(value[key]) || (value[key] as number) <= 0) {
          problems.push(`preprocessing.${key} must be a positive integer`);
        }
      }
      if (value.channels !== 1 && value.channels !== 3)
        problems.push('preprocessing.channels must be 1 or 3');
      const norm = value.normalization;
      if (!isObject(norm) || (norm.type !== 'rescale' && norm.type !== 'standardize')) {
        problems.push('preprocessing.normalization.type must be "rescale" or "standardize"');
      } else if (norm.type === 'standardize') {
        const channels = value.channels as number;
        if (!isNumberArray(norm.mean) || norm.mean.length !== channels) {
          problems.push('preprocessing.normalization.mean must have one number per channel');
        }
        if (
          !isNumberArray(norm.std) ||
          norm.std.length !== channels ||
          norm.std.some((s) => s <= 0)
        ) {
          problems.push(
            'preprocessing.normalization.std must have one positive number per channel',
          );
        }
      }
      if (
        value.scale !== undefined &&
        (typeof value.scale !== 'number' || !Number.isFinite(value.scale) || value.scale <= 0)
      ) {
        problems.push('preprocessing.scale must be a positive number');
      }
      if (value.layout !== undefined && value.layout !== 'NHWC' && value.layout !== 'NCHW') {
        problems.push('preprocessing.layout must be "NHWC" or "NCHW"');
      }
      return;
    }
    case 'features':
      if (!isStringArray(value.columns) || value.columns.length === 0) {
        problems.push('preprocessing.columns must be a non-empty array of strings');
      } else if (new Set(value.columns).size !== value.columns.length) {
        problems.push('preprocessing.columns must not repeat a name');
      }
      return;
    case 'none':
      return;
    case 'series':
    case 'tabular': {
      if (!isStringArray(value.columns) || value.columns.length === 0) {
        problems.push('preprocessing.columns must be a non-empty array of strings');
        return;
      }
      if (typeof value.target !== 'string' || !value.columns.includes(value.target)) {
        problems.push('preprocessing.target must name one of preprocessing.columns');
      }
      if (
        value.kind === 'series' &&
        (!Number.isInteger(value.window) || (value.window as number) < 1)
      ) {
        problems.push('preprocessing.window must be a positive integer');
      }
      checkScaler(value.scaler, value.columns.length, 'preprocessing.scaler', problems);
      return;
    }
    default:
      problems.push(
        'preprocessing.kind must be "image", "series", "tabular", "features" or "none"',
      );
  }
}

function checkFramework(framework: unknown, problems: string[]): void {
  if (isObject(framework) && framework.name === 'onnx') {
    if (
      typeof framework.version !== 'string' ||
      framework.format !== 'onnx' ||
      !Number.isInteger(framework.opset) ||
      (framework.opset as number) < 0 ||
      (framework.producer !== undefined && typeof framework.producer !== 'string')
    ) {
      problems.push(
        'framework must be {name: "onnx", version, format: "onnx", opset: integer >= 0, producer?}',
      );
    }
    return;
  }
  if (
    !isObject(framework) ||
    framework.name !== 'tfjs' ||
    typeof framework.version !== 'string' ||
    (framework.format !== 'layers-model' && framework.format !== 'graph-model')
  ) {
    problems.push(
      'framework must be {name: "tfjs", version, format: "layers-model" | "graph-model"} or {name: "onnx", ...}',
    );
  }
}

/** `artifacts`, when present: known engines, files the version lists, the framework's own engine. */
function checkArtifacts(value: Json, problems: string[]): void {
  const artifacts = value.artifacts;
  if (artifacts === undefined) return;
  if (!isObject(artifacts)) {
    problems.push('artifacts must be an object keyed by engine (tfjs, onnx)');
    return;
  }
  const files = isObject(value.files) ? value.files : {};
  for (const [engine, artifact] of Object.entries(artifacts)) {
    if (!ENGINE_NAMES.includes(engine as EngineName)) {
      problems.push(`artifacts.${engine}: unknown engine; use ${ENGINE_NAMES.join(' or ')}`);
      continue;
    }
    if (!isObject(artifact) || typeof artifact.file !== 'string') {
      problems.push(`artifacts.${engine} must be {file, input?, output?}`);
      continue;
    }
    if (!(artifact.file in files)) {
      problems.push(`artifacts.${engine}.file ${JSON.stringify(artifact.file)} is not in files`);
    }
    for (const key of ['input', 'output'] as const) {
      if (artifact[key] !== undefined && typeof artifact[key] !== 'string') {
        problems.push(`artifacts.${engine}.${key} must be a string`);
      }
    }
  }
  const own = isObject(value.framework) ? value.framework.name : undefined;
  if (typeof own === 'string' && !(own in artifacts)) {
    // The framework's own artifact is implied (its default file), and must then exist.
    const file = DEFAULT_ARTIFACT_FILE[own as EngineName] as string | undefined;
    if (file !== undefined && !(file in files)) {
      problems.push(`artifacts must list the ${own} artifact (no ${file} in files)`);
    }
  }
}

/**
 * The engines that can serve a version, each with the file it loads, the framework's own first.
 * Old manifests (no `artifacts`) have just their framework's own artifact, at its default file.
 */
export function engineArtifacts(
  manifest: Pick<ModelManifest, 'framework' | 'artifacts' | 'inputs' | 'outputs'>,
): Map<EngineName, EngineArtifact> {
  const own = manifest.framework.name;
  const result = new Map<EngineName, EngineArtifact>();
  const input = manifest.inputs[0]?.name;
  const output = manifest.outputs[0]?.name;
  result.set(
    own,
    manifest.artifacts?.[own] ?? {
      file: DEFAULT_ARTIFACT_FILE[own],
      ...(own === 'onnx' && input !== undefined ? { input } : {}),
      ...(own === 'onnx' && output !== undefined ? { output } : {}),
    },
  );
  for (const engine of ENGINE_NAMES) {
    const artifact = manifest.artifacts?.[engine];
    if (engine !== own && artifact !== undefined) result.set(engine, artifact);
  }
  return result;
}

/**
 * Checks that a parsed `manifest.json` has every field the readers rely on, with the right
 * types. Throws an `integrity` error listing every problem, so one read shows them all.
 */
export function validateManifest(value: unknown, where = 'manifest'): ModelManifest {
  const problems: string[] = [];
  if (!isObject(value)) {
    throw new MscrError('integrity', `${where}: not a JSON object`);
  }
  if (value.schemaVersion !== MANIFEST_SCHEMA_VERSION) {
    problems.push(`schemaVersion must be ${MANIFEST_SCHEMA_VERSION}`);
  }
  if (typeof value.name !== 'string' || !MODEL_NAME.test(value.name) || value.name.includes('..')) {
    problems.push('name must be a valid model name');
  }
  if (!isVersionNumber(value.version)) problems.push('version must be a positive integer');
  checkFramework(value.framework, problems);
  checkArtifacts(value, problems);
  if (!MODEL_TASKS.includes(value.task as ModelTask))
    problems.push(`task must be one of ${MODEL_TASKS.join(', ')}`);
  if (typeof value.architecture !== 'string') problems.push('architecture must be a string');
  checkTensorSpecs(value.inputs, 'inputs', problems);
  checkTensorSpecs(value.outputs, 'outputs', problems);
  if (value.labels !== undefined && !isStringArray(value.labels))
    problems.push('labels must be an array of strings');
  if (value.task === 'image-classification' && !isStringArray(value.labels)) {
    problems.push('labels are required for image-classification');
  }
  checkPreprocessing(value.preprocessing, problems);
  if (value.detection !== undefined) checkDetectionSpec(value.detection, problems);
  if (
    !isObject(value.metrics) ||
    !Object.values(value.metrics).every((m) => typeof m === 'number')
  ) {
    problems.push('metrics must be an object of numbers');
  }
  if (!isObject(value.training)) problems.push('training must be an object');
  if (
    !isObject(value.data) ||
    typeof value.data.fingerprint !== 'string' ||
    !isStringArray(value.data.sources)
  ) {
    problems.push('data must be {fingerprint, sources}');
  }
  if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt))) {
    problems.push('createdAt must be an ISO date');
  }
  if (!isObject(value.files) || Object.keys(value.files).length === 0) {
    problems.push('files must list at least one file');
  } else {
    for (const [file, entry] of Object.entries(value.files)) {
      if (!isSafeFileName(file)) problems.push(`files: unsafe file name ${JSON.stringify(file)}`);
      if (
        !isObject(entry) ||
        typeof entry.sha256 !== 'string' ||
        !/^[0-9a-f]{64}$/.test(entry.sha256)
      ) {
        problems.push(`files.${file}.sha256 must be a hex sha256`);
      }
      if (!isObject(entry) || !Number.isSafeInteger(entry.size) || (entry.size as number) < 0) {
        problems.push(`files.${file}.size must be a non-negative integer`);
      }
    }
  }
  if (problems.length > 0) {
    throw new MscrError('integrity', `${where} is invalid: ${problems.join('; ')}`);
  }
  return value as unknown as ModelManifest;
}

/** A file name inside a version folder: one path segment, no traversal, not the manifest. */
export function isSafeFileName(name: string): boolean {
  return (
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(name) &&
    !name.includes('..') &&
    name !== MANIFEST_FILE
  );
}
