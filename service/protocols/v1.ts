/**
 * V1 adapter: TensorFlow Serving's REST predict API (which KServe V1 adopted) -> tensors
 * checked against the manifest, model outputs -> `predictions` / `outputs`, and the model
 * status answer. No HTTP here.
 *
 * Follows tensorflow/serving `tensorflow_serving/g3doc/api_rest.md`:
 * - Row format, `{"instances": [...]}`: one entry per instance. For a single-input model an
 *   entry is the input without its batch dimension (nested lists, or a bare number when the
 *   input is one value per instance), or `{"<input>": value}`; for several inputs it must be
 *   such an object. The answer is `{"predictions": [...]}`, one per instance.
 * - Columnar format, `{"inputs": ...}`: the whole batch per input, as an object by input name
 *   or, for a single-input model, the bare tensor. The answer is `{"outputs": ...}`.
 * - `{"b64": "..."}` carries bytes. For an image model an image file (JPEG, PNG, ...) may be
 *   sent that way instead of pixels: it is decoded, resized and normalised exactly as in
 *   training. Numbers sent for an image model are taken as the model input as it is (already
 *   normalised), as TF Serving would.
 * - `signature_name` may be absent, empty (the default signature) or `serving_default`, the
 *   only signature of an mscr model.
 *
 * JSON has no NaN or Infinity; TF Serving accepts and returns them as extensions, and so does
 * this adapter for float inputs and outputs (the body is parsed with `parseTfServingJson`,
 * and answers written with `stringifyTfServingJson`).
 */
import type { ModelManifest, TensorSpec } from '../../connectors/ms/manifest.ts';
import type { VersionStateReport } from '../../connectors/sc/mscr.ts';
import type {
  KServeV1ModelsResponse,
  ModelVersionStatus,
  V1ModelResponse,
  V1PredictResponse,
  V1Value,
} from '../../connectors/sc/v1.ts';
import { MscrError } from '../../connectors/errors.ts';
import { decodeImageBody, imageSpecOf } from './convenience.ts';
import { countB64, DEFAULT_IMAGE_POLICY } from './image-policy.ts';
import { nonFiniteMarker } from './tfserving-json.ts';
import { checkSignatureName } from './tfserving.ts';
import {
  DEFAULT_DECODE_LIMITS,
  allocate,
  badRequest,
  checkBatch,
  checkLimits,
  checkOutput,
  describeValue,
  elementReader,
  findSpec,
  float32ToJson,
  isPlainObject,
  nameList,
  nest,
  own,
  quote,
  readV1Float32,
  shapeText,
  singleInput,
  walkTensor,
} from './tensor.ts';
import type { DecodeLimits, DecodedTensor, OutputTensor, TensorValues } from './tensor.ts';

export type V1Format = 'row' | 'columnar';

/** One instance of a row request: its inputs by name, or the bare value of a single input. */
interface InstanceEntry {
  where: string;
  named?: Map<string, unknown>;
  bare?: unknown;
}

export interface DecodedV1Request {
  /** Decides the answer's shape: `predictions` for row, `outputs` for columnar. */
  format: V1Format;
  /** One per model input, in the manifest's order. */
  inputs: DecodedTensor[];
}

const REQUEST_SHAPE =
  'a JSON object {"instances": [...]} (row format) or {"inputs": ...} (columnar format)';

/** `{"b64": "<base64>"}` and nothing else, as TF Serving encodes binary values. */
function isB64(value: unknown): value is { b64: string } {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'b64';
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function base64Bytes(value: { b64: string }, where: string): Uint8Array {
  const text = value.b64;
  if (typeof text !== 'string' || !BASE64.test(text) || text.length % 4 === 1) {
    throw badRequest(
      `${where}.b64 is not base64 text; encode the file's bytes with standard or URL-safe base64`,
    );
  }
  const bytes = Buffer.from(text, 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Whether `{b64}` values are images for this input: the image input of an image model. */
function takesImages(manifest: ModelManifest, spec: TensorSpec): boolean {
  return manifest.preprocessing.kind === 'image' && spec.dtype === 'float32';
}

function imageShape(manifest: ModelManifest, spec: TensorSpec): number[] {
  const pre = imageSpecOf(manifest);
  const shape = [pre.height, pre.width, pre.channels];
  const fits =
    spec.shape.length === 4 &&
    shape.every((d, i) => {
      const expected = spec.shape[i + 1] as number;
      return expected === -1 || expected === d;
    });
  if (!fits) {
    throw new MscrError(
      'internal',
      `model ${quote(manifest.name)}: input ${quote(spec.name)} has shape ${shapeText(spec.shape)}, which does not fit its image preprocessing ${pre.height}x${pre.width}x${pre.channels}`,
    );
  }
  return shape;
}

async function decodeB64Image(
  value: unknown,
  where: string,
  manifest: ModelManifest,
  spec: TensorSpec,
  limits: DecodeLimits,
): Promise<Float32Array> {
  if (!isB64(value)) throw badRequest(`${where} must be a {"b64": "..."} image`);
  if (!takesImages(manifest, spec)) {
    throw badRequest(
      `${where} is a {"b64": ...} value, but input ${quote(spec.name)} of model ${quote(manifest.name)} takes ${spec.dtype} numbers, not files: send the values as (nested) lists of numbers`,
    );
  }
  return decodeImageBody(base64Bytes(value, where), manifest, {
    source: where,
    formatStatus: 400,
    ...(limits.images !== undefined ? { policy: limits.images } : {}),
    ...(limits.maxImagePixels !== undefined ? { maxInputPixels: limits.maxImagePixels } : {}),
  });
}

function concat(parts: TensorValues[], spec: TensorSpec): TensorValues {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = allocate(spec.dtype, total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Every instance's value for one input -> the batched tensor. */
async function decodeRowInput(
  values: { value: unknown; where: string }[],
  spec: TensorSpec,
  manifest: ModelManifest,
  limits: DecodeLimits,
  budget: number,
): Promise<DecodedTensor> {
  const batch = values.length;
  const batchDim = spec.shape[0] as number;
  if (batchDim !== -1 && batchDim !== batch) {
    throw badRequest(
      `input ${quote(spec.name)} takes exactly ${batchDim} instance${batchDim === 1 ? '' : 's'} (shape ${shapeText(spec.shape)}); got ${batch}`,
    );
  }
  const read = readerOf(spec);
  let instanceShape: number[] = spec.shape.slice(1);
  let shapeNote: string | undefined; // set once an instance fixed the `-1` dimensions
  const parts: TensorValues[] = [];
  let remaining = budget;
  for (const { value, where } of values) {
    let part: TensorValues;
    if (isB64(value)) {
      part = await decodeB64Image(value, where, manifest, spec, limits);
      const shape = imageShape(manifest, spec);
      if (instanceShape.some((d, i) => d !== -1 && d !== shape[i])) {
        throw badRequest(
          `${where} is an image of ${shapeText(shape)}, but earlier instances were tensors of shape ${shapeText(instanceShape)}`,
        );
      }
      if (part.length > remaining) {
        throw badRequest(
          `the instances carry more than ${budget} elements; send fewer per request`,
        );
      }
      instanceShape = shape;
    } else {
      const walked = walkTensor(value, {
        where,
        shape: instanceShape,
        maxElements: remaining,
        read,
        dtype: spec.dtype,
        ...(shapeNote !== undefined ? { shapeNote } : {}),
      });
      part = walked.data;
      if (shapeNote === undefined && instanceShape.some((d) => d === -1)) {
        shapeNote = ` as in ${where}: all instances need one shape`;
      }
      instanceShape = walked.shape; // later instances must match the first one's dimensions
    }
    remaining -= part.length;
    parts.push(part);
  }
  return {
    name: spec.name,
    dtype: spec.dtype,
    shape: [batch, ...instanceShape],
    data: concat(parts, spec),
  };
}

/** One input's whole batch in the columnar format -> tensor. */
async function decodeColumnarInput(
  value: unknown,
  where: string,
  spec: TensorSpec,
  manifest: ModelManifest,
  limits: DecodeLimits,
  budget: number,
): Promise<DecodedTensor> {
  const images = isB64(value)
    ? [value]
    : Array.isArray(value) && value.length > 0 && value.every(isB64)
      ? value
      : undefined;
  if (images !== undefined) {
    if (images.length > limits.maxBatch) {
      throw badRequest(
        `${where} has ${images.length} images; at most ${limits.maxBatch} per request`,
      );
    }
    const shape = takesImages(manifest, spec) ? imageShape(manifest, spec) : [];
    const parts: TensorValues[] = [];
    for (let i = 0; i < images.length; i++) {
      parts.push(
        await decodeB64Image(
          images[i],
          isB64(value) ? where : `${where}[${i}]`,
          manifest,
          spec,
          limits,
        ),
      );
    }
    return {
      name: spec.name,
      dtype: spec.dtype,
      shape: [images.length, ...shape],
      data: concat(parts, spec),
    };
  }
  const read = readerOf(spec);
  const walked = walkTensor(value, {
    where,
    shape: spec.shape,
    maxElements: budget,
    read,
    dtype: spec.dtype,
  });
  return { name: spec.name, dtype: spec.dtype, shape: walked.shape, data: walked.data };
}

/** The named-object form: own keys must be exactly the model's input names. */
function namedValues(
  object: Record<string, unknown>,
  where: string,
  manifest: ModelManifest,
): Map<string, unknown> {
  const names = manifest.inputs.map((s) => s.name);
  const values = new Map<string, unknown>();
  for (const key of Object.keys(object)) {
    if (findSpec(manifest.inputs, key) === undefined) {
      throw badRequest(
        `${where} names unknown input ${quote(key)}; the model's inputs are: ${nameList(names)}`,
      );
    }
    values.set(key, object[key]);
  }
  const missing = names.filter((name) => !values.has(name));
  if (missing.length > 0) {
    throw badRequest(
      `${where} has no input ${nameList(missing)}; the model's inputs are: ${nameList(names)}`,
    );
  }
  return values;
}

/** The element reader of a V1 input: float inputs also take NaN and ±Infinity. */
function readerOf(spec: TensorSpec) {
  const read = spec.dtype === 'float32' ? readV1Float32 : elementReader('json', spec.dtype);
  if (read === undefined) throw new MscrError('internal', `no reader for ${spec.dtype}`);
  return read;
}

/**
 * Validates a TF Serving / KServe V1 predict body against the model and decodes each input.
 * Async because `{"b64"}` images are decoded (one after another, so a request cannot take
 * every decoder thread at once).
 */
export async function decodeV1PredictRequest(
  body: unknown,
  manifest: ModelManifest,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): Promise<DecodedV1Request> {
  checkLimits(limits);
  if (!isPlainObject(body))
    throw badRequest(`a predict request must be ${REQUEST_SHAPE}, got ${describeValue(body)}`);
  checkSignatureName(body);
  const hasInstances = Object.hasOwn(body, 'instances');
  const hasInputs = Object.hasOwn(body, 'inputs');
  if (hasInstances && hasInputs) {
    throw badRequest(
      'a predict request has either "instances" (row format) or "inputs" (columnar format), not both',
    );
  }
  if (!hasInstances && !hasInputs) throw badRequest(`a predict request must be ${REQUEST_SHAPE}`);
  // Images are counted before any is decoded: ten 40-megapixel images in one request would
  // cost ten decodes, however the first one ends.
  if (manifest.preprocessing.kind === 'image') {
    const maxImages = (limits.images ?? DEFAULT_IMAGE_POLICY).maxPerRequest;
    const images = countB64(body, maxImages);
    if (images > maxImages)
      throw badRequest(
        `the request carries more than ${maxImages} {"b64"} images; send at most ${maxImages} per request (MSCR_MAX_IMAGES_PER_REQUEST)`,
      );
  }

  const inputs: DecodedTensor[] = [];
  let budget = limits.maxElements;
  if (hasInstances) {
    const instances = own(body, 'instances');
    if (!Array.isArray(instances) || instances.length === 0) {
      throw badRequest(
        `instances must be a non-empty list, one entry per instance, got ${Array.isArray(instances) ? 'an empty list' : describeValue(instances)}`,
      );
    }
    if (instances.length > limits.maxBatch) {
      throw badRequest(
        `instances has ${instances.length} entries; at most ${limits.maxBatch} per request`,
      );
    }
    const single = manifest.inputs.length === 1;
    const perInstance = instances.map((instance: unknown, i): InstanceEntry => {
      const where = `instances[${i}]`;
      if (isPlainObject(instance) && !isB64(instance))
        return { where, named: namedValues(instance, where, manifest) };
      if (!single) {
        throw badRequest(
          `${where} must be an object naming each input (${nameList(manifest.inputs.map((s) => s.name))}), got ${describeValue(instance)}`,
        );
      }
      return { where, bare: instance };
    });
    for (const spec of manifest.inputs) {
      const values = perInstance.map((entry) =>
        entry.named !== undefined
          ? { value: entry.named.get(spec.name), where: `${entry.where}.${spec.name}` }
          : { value: entry.bare, where: entry.where },
      );
      const tensor = await decodeRowInput(values, spec, manifest, limits, budget);
      budget -= tensor.data.length;
      inputs.push(tensor);
    }
  } else {
    const value = own(body, 'inputs');
    if (value === undefined || value === null)
      throw badRequest(
        `inputs is ${describeValue(value)}: send the input tensor, or an object of tensors by input name`,
      );
    const named =
      isPlainObject(value) && !isB64(value) ? namedValues(value, 'inputs', manifest) : undefined;
    const spec = named === undefined ? singleInput(manifest, 'a bare "inputs" tensor') : undefined;
    for (const s of manifest.inputs) {
      if (spec !== undefined && s !== spec) continue;
      const tensor = await decodeColumnarInput(
        named === undefined ? value : named.get(s.name),
        named === undefined ? 'inputs' : `inputs.${s.name}`,
        s,
        manifest,
        limits,
        budget,
      );
      budget -= tensor.data.length;
      inputs.push(tensor);
    }
  }
  checkBatch(manifest, inputs, limits);
  return { format: hasInstances ? 'row' : 'columnar', inputs };
}

/**
 * Model outputs -> the V1 answer (write it with `stringifyTfServingJson`). Row: `{"predictions": [...]}`, one entry per instance (the
 * output without its batch dimension; an object by output name when there are several, as
 * TF Serving does). A classifier's prediction is its probability list. Columnar:
 * `{"outputs": tensor}`, or an object by name for several outputs.
 */
export function encodeV1PredictResponse(
  format: V1Format,
  outputs: readonly OutputTensor[],
): V1PredictResponse {
  if (outputs.length === 0) throw new MscrError('internal', 'the model returned no outputs');
  for (const output of outputs) checkOutput(output);
  const nested = (
    output: OutputTensor,
    values: Float32Array,
    shape: readonly number[],
  ): V1Value => {
    const where = `output ${quote(output.name)}`;
    // Non-finite values go out as TF Serving writes them (stringifyTfServingJson).
    return nest(values, shape, (v) =>
      Number.isFinite(v) ? float32ToJson(v, where) : nonFiniteMarker(v),
    ) as V1Value;
  };
  if (format === 'columnar') {
    const [only] = outputs;
    if (outputs.length === 1 && only !== undefined)
      return { outputs: nested(only, only.data, only.shape) };
    return {
      outputs: Object.fromEntries(outputs.map((o) => [o.name, nested(o, o.data, o.shape)])),
    };
  }
  const batch = outputs[0]?.shape[0];
  for (const output of outputs) {
    if (output.shape.length === 0 || output.shape[0] !== batch) {
      throw new MscrError(
        'internal',
        `output ${quote(output.name)} has shape ${shapeText(output.shape)}; row answers need one batch size over all outputs (${String(batch)})`,
      );
    }
  }
  const predictions: (V1Value | Record<string, V1Value>)[] = [];
  for (let b = 0; b < (batch as number); b++) {
    const row = outputs.map((o): [string, V1Value] => {
      const inner = o.shape.slice(1);
      const size = inner.reduce((x, y) => x * y, 1);
      return [o.name, nested(o, o.data.subarray(b * size, (b + 1) * size), inner)];
    });
    predictions.push(row.length === 1 ? (row[0] as [string, V1Value])[1] : Object.fromEntries(row));
  }
  return { predictions };
}

/**
 * The model status answer in TF Serving's exact shape (`GetModelStatusResponse` as JSON):
 * versions newest first, `version` as a string, `state` by name, `status` always present. A
 * `FAILED` version is reported as TF Serving reports a failed load: `END` with an `UNKNOWN`
 * error and its message. With `name`, KServe V1's `name` and `ready` (any version
 * `AVAILABLE`) are added, so both kinds of client can read `GET /v1/models/{m}`.
 */
export function modelStatusResponse(
  versions: readonly VersionStateReport[],
  options: { name?: string } = {},
): V1ModelResponse {
  const model_version_status = [...versions]
    .sort((a, b) => b.version - a.version)
    .map((report): ModelVersionStatus => {
      const failed = report.state === 'FAILED' || report.error !== undefined;
      return {
        version: String(report.version),
        state: report.state === 'FAILED' ? 'END' : report.state,
        status: failed
          ? { error_code: 'UNKNOWN', error_message: report.error ?? 'the version failed to load' }
          : { error_code: 'OK', error_message: '' },
      };
    });
  if (options.name === undefined) return { model_version_status };
  return {
    name: options.name,
    ready: versions.some((v) => v.state === 'AVAILABLE'),
    model_version_status,
  };
}

/** KServe V1's `GET /v1/models`: the served model names, sorted. */
export function modelsResponse(names: readonly string[]): KServeV1ModelsResponse {
  return { models: [...new Set(names)].sort() };
}
