/**
 * TF Serving's REST API beyond predict (tensorflow/serving `g3doc/api_rest.md`), no HTTP here:
 *
 * - Model metadata, `GET /v1/models/{m}[/versions/{v}|/labels/{l}]/metadata`: the JSON form of
 *   `GetModelMetadataResponse` as TF Serving writes it: `model_spec` (int64 `version` as a
 *   string, empty `signature_name`) and `metadata.signature_def`, the `SignatureDefMap` with
 *   the model's one signature, `serving_default` (proto field names, `size` as a string).
 * - Classify and Regress, `POST ...:classify` / `...:regress`: `{"examples": [{feature:
 *   value}, ...], "context": {...}}` (tf.Example features by name; a context feature is shared
 *   by every example and may not appear in one) for models that take rows of named features
 *   (imported tabular models). Classify answers `{"result": [[[label, score], ...], ...]}`,
 *   regress `{"result": [value, ...]}`, one entry per example.
 */
import type { ModelManifest, TensorDtype, TensorSpec } from '../../connectors/ms/manifest.ts';
import { DEFAULT_SIGNATURE } from '../../connectors/sc/v1.ts';
import { featuresOf, type TabularLimits } from './tabular.ts';
import {
  badRequest,
  checkOutput,
  describeValue,
  float32ToJson,
  isPlainObject,
  own,
  quote,
  shapeText,
} from './tensor.ts';
import type { OutputTensor } from './tensor.ts';

export const PREDICT_METHOD = 'tensorflow/serving/predict';

const TF_DTYPE: Record<TensorDtype, string> = {
  float32: 'DT_FLOAT',
  int32: 'DT_INT32',
  bool: 'DT_BOOL',
};

/** `TensorInfo` as proto JSON: int64 dims as strings, the graph tensor name `<name>:0`. */
function tensorInfo(spec: TensorSpec) {
  return {
    dtype: TF_DTYPE[spec.dtype],
    tensor_shape: {
      dim: spec.shape.map((size) => ({ size: String(size), name: '' })),
      unknown_rank: false,
    },
    name: `${spec.name}:0`,
  };
}

/** `GetModelMetadataResponse` of one version, in TF Serving's REST JSON. */
export function v1ModelMetadata(manifest: ModelManifest, version: number) {
  return {
    model_spec: { name: manifest.name, signature_name: '', version: String(version) },
    metadata: {
      signature_def: {
        signature_def: {
          [DEFAULT_SIGNATURE]: {
            inputs: Object.fromEntries(manifest.inputs.map((s) => [s.name, tensorInfo(s)])),
            outputs: Object.fromEntries(manifest.outputs.map((s) => [s.name, tensorInfo(s)])),
            method_name: PREDICT_METHOD,
          },
        },
      },
    },
  };
}

/**
 * `signature_name` absent, empty (TF Serving's "default signature") or `serving_default`;
 * anything else names a signature mscr models do not have.
 */
export function checkSignatureName(body: Record<string, unknown>): void {
  const signature = own(body, 'signature_name');
  if (signature === undefined || signature === '' || signature === DEFAULT_SIGNATURE) return;
  throw badRequest(
    typeof signature === 'string'
      ? `unknown signature_name ${quote(signature)}; the model has one signature, ${quote(DEFAULT_SIGNATURE)} (or leave signature_name out)`
      : `signature_name must be a string, got ${describeValue(signature)}`,
  );
}

/** One feature value: a number, or a list of exactly one number (a one-value tf.Example feature). */
function featureValue(value: unknown, where: string): number {
  const single = Array.isArray(value) && value.length === 1 ? (value[0] as unknown) : value;
  if (typeof single !== 'number' || !Number.isFinite(single)) {
    throw badRequest(
      `${where} is ${describeValue(value)}; a feature of this model is one finite number (or a list of one)`,
    );
  }
  return single;
}

/** A classify or regress body -> the model input, `[examples, features]` row-major. */
export function decodeExamples(
  body: unknown,
  manifest: ModelManifest,
  limits: TabularLimits,
): { input: Float32Array; rows: number } {
  const features = featuresOf(manifest);
  const shape = `{"examples": [{${features
    .slice(0, 3)
    .map((f) => `${JSON.stringify(f)}: number`)
    .join(', ')}${features.length > 3 ? ', ...' : ''}}]}`;
  if (!isPlainObject(body)) throw badRequest(`send ${shape}, got ${describeValue(body)}`);
  for (const key of Object.keys(body)) {
    if (key !== 'examples' && key !== 'context' && key !== 'signature_name')
      throw badRequest(
        `unknown field ${quote(key)}; the body has "examples", and optionally "context" and "signature_name"`,
      );
  }
  checkSignatureName(body);
  const examples = own(body, 'examples');
  if (!Array.isArray(examples) || examples.length === 0)
    throw badRequest(`examples must be a non-empty list: send ${shape}`);
  const context = own(body, 'context') ?? {};
  if (!isPlainObject(context))
    throw badRequest(`context must be an object of feature: value, got ${describeValue(context)}`);
  if (examples.length > limits.maxBatch)
    throw badRequest(`${examples.length} examples; at most ${limits.maxBatch} per request`);
  if (examples.length * features.length > limits.maxElements)
    throw badRequest(
      `${examples.length} examples of ${features.length} features is more than ${limits.maxElements} values; send fewer per request`,
    );
  const index = new Map(features.map((f, i) => [f, i]));
  const unknown = (key: string, where: string) =>
    badRequest(
      `${where} has unknown feature ${quote(key)}; the model's features are ${features.map((f) => JSON.stringify(f)).join(', ')}`,
    );
  const shared = new Map<number, number>();
  for (const key of Object.keys(context)) {
    const column = index.get(key);
    if (column === undefined) throw unknown(key, 'context');
    shared.set(column, featureValue(context[key], `context.${key}`));
  }
  const input = new Float32Array(examples.length * features.length);
  examples.forEach((example: unknown, r) => {
    const where = `examples[${r}]`;
    if (!isPlainObject(example))
      throw badRequest(
        `${where} must be an object of feature: value, got ${describeValue(example)}`,
      );
    const row = new Map(shared);
    for (const key of Object.keys(example)) {
      const column = index.get(key);
      if (column === undefined) throw unknown(key, where);
      if (shared.has(column))
        throw badRequest(`${where}.${key} is in the context too; a feature goes in one of them`);
      row.set(column, featureValue(example[key], `${where}.${key}`));
    }
    if (row.size !== features.length) {
      const missing = features.filter((_, i) => !row.has(i));
      throw badRequest(
        `${where} lacks ${missing.map((f) => JSON.stringify(f)).join(', ')} (in the example or the context)`,
      );
    }
    for (const [column, value] of row) input[r * features.length + column] = value;
  });
  return { input, rows: examples.length };
}

function rowsOf(output: OutputTensor): { batch: number; width: number } {
  checkOutput(output);
  const [batch, width = 1] = output.shape;
  if (batch === undefined || output.shape.length > 2)
    throw badRequest(
      `output ${quote(output.name)} has shape ${shapeText(output.shape)}; classify and regress need [examples] or [examples, n]`,
    );
  return { batch, width };
}

/** Class probabilities -> `{"result": [[[label, score], ...], ...]}`, classes in model order. */
export function encodeClassificationResult(manifest: ModelManifest, output: OutputTensor) {
  if (manifest.task !== 'tabular-classification')
    throw badRequest(
      `model ${quote(manifest.name)} is a ${manifest.task} model, not a classifier: use :regress or :predict`,
    );
  const { batch, width } = rowsOf(output);
  const labels = manifest.labels ?? [];
  const result: [string, number][][] = [];
  for (let b = 0; b < batch; b++) {
    const row = output.data.subarray(b * width, (b + 1) * width);
    result.push(
      Array.from(row, (p, c): [string, number] => [
        labels[c] ?? String(c),
        float32ToJson(p, `score of class ${c}`),
      ]),
    );
  }
  return { result };
}

/** One value per example -> `{"result": [value, ...]}`. */
export function encodeRegressionResult(manifest: ModelManifest, output: OutputTensor) {
  if (manifest.task === 'tabular-classification')
    throw badRequest(
      `model ${quote(manifest.name)} is a classifier: use :classify for its class scores`,
    );
  const { batch, width } = rowsOf(output);
  if (width !== 1)
    throw badRequest(
      `model ${quote(manifest.name)} answers ${width} values per example; :regress needs one (use :predict)`,
    );
  return {
    result: Array.from(output.data.subarray(0, batch), (v, b) => float32ToJson(v, `example ${b}`)),
  };
}
