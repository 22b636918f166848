/**
 * Open Inference Protocol (KServe V2) adapter: `$inference_request` JSON -> tensors checked
 * against the manifest, and model outputs -> `$inference_response`. No HTTP here.
 *
 * Follows kserve/kserve `docs/predict-api/v2/required_api.md`: tensor `data` is row-major,
 * flat or nested in the tensor's shape; `id` is echoed; `outputs` selects what comes back;
 * unknown top-level fields are ignored (the kserve Python client adds `model_name`).
 *
 * Of Triton's extensions, binary tensor data (tritonclient's default) is spoken: the HTTP
 * layer turns binary inputs into `data` (v2-binary.ts: a Float32Array for FP32, JSON-like
 * numbers otherwise) before this validator, which checks them as it checks JSON, and
 * returns binary outputs when asked. Shared memory and `classification` are a
 * `bad_request` that says what to send instead.
 */
import type { ModelManifest, TensorSpec } from '../../connectors/ms/manifest.ts';
import { mscrClassifyPath } from '../../connectors/sc/routes.ts';
import {
  platformOf,
  V2_ACCEPTED_DATATYPES,
  V2_DATATYPES,
  isV2Datatype,
  v2DatatypeOf,
} from '../../connectors/sc/v2.ts';
import type {
  InferResponse,
  InferResponseOutput,
  MetadataTensor,
  ModelMetadata,
  Parameters,
  V2Datatype,
} from '../../connectors/sc/v2.ts';
import {
  DEFAULT_DECODE_LIMITS,
  badRequest,
  checkBatch,
  checkLimits,
  checkOutput,
  describeValue,
  elementCount,
  elementReader,
  findSpec,
  float32ToJson,
  isPlainObject,
  nameList,
  own,
  quote,
  shapeText,
  walkTensor,
} from './tensor.ts';
import type { DecodeLimits, DecodedTensor, OutputTensor } from './tensor.ts';

export interface DecodedInferRequest {
  id?: string;
  parameters?: Parameters;
  /** One per model input, in the manifest's order. */
  inputs: DecodedTensor[];
  /** Output names asked for, in the request's order; absent: all outputs. */
  outputs?: string[];
}

const REQUEST_SHAPE = '{"inputs": [{"name", "shape", "datatype", "data"}]}';

/** `$parameters`: an object of strings, finite numbers and booleans. */
export function parseParameters(value: unknown, where: string): Parameters | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    throw badRequest(
      `${where} must be an object of name: value pairs, got ${describeValue(value)}`,
    );
  }
  const entries = Object.keys(value).map((key): [string, string | number | boolean] => {
    const v = value[key];
    if (
      typeof v === 'string' ||
      typeof v === 'boolean' ||
      (typeof v === 'number' && Number.isFinite(v))
    ) {
      return [key, v];
    }
    throw badRequest(
      `${where} ${quote(key)} is ${describeValue(v)}; a parameter is a string, number or boolean`,
    );
  });
  return Object.fromEntries(entries);
}

function rejectExtensions(
  parameters: Parameters | undefined,
  what: string,
  output: boolean,
  model: string,
): void {
  if (parameters === undefined) return;
  if (Object.hasOwn(parameters, 'binary_data_size')) {
    // inlineBinaryInputs (v2-binary.ts) consumes these; one left here had no binary body.
    throw badRequest(
      `${what} declares parameters.binary_data_size, but the request has no binary data: send the Inference-Header-Content-Length header with the JSON header's size, or the values as JSON "data"`,
    );
  }
  if (Object.hasOwn(parameters, 'shared_memory_region')) {
    throw badRequest(
      `${what} uses the shared-memory extension (parameters.shared_memory_region), which this server does not speak: send the values as JSON "data"`,
    );
  }
  if (output && Object.hasOwn(parameters, 'classification')) {
    throw badRequest(
      `${what} asks for the classification extension (parameters.classification), which this server does not speak: ask for the probabilities and rank them, or POST the image to ${mscrClassifyPath(model)} for labels with scores`,
    );
  }
}

function datatypeHint(datatype: V2Datatype, spec: TensorSpec, manifest: ModelManifest): string {
  const expected = v2DatatypeOf(spec.dtype);
  if (datatype === 'BYTES') {
    return `input ${quote(spec.name)} has datatype BYTES, but the model takes ${expected} numbers: strings and encoded files are not accepted here; send the tensor as ${expected} values${manifest.preprocessing.kind === 'image' ? ` (for an image file, POST it to ${mscrClassifyPath(manifest.name)}, or use V1 with {"b64": ...})` : ''}`;
  }
  const accepted = V2_ACCEPTED_DATATYPES[spec.dtype].join(', ');
  const cast =
    spec.dtype === 'float32' ? 'np.float32' : spec.dtype === 'int32' ? 'np.int32' : 'np.bool_';
  return `input ${quote(spec.name)} has datatype ${datatype}, model expects ${expected} (accepted: ${accepted}): convert the data first, e.g. numpy .astype(${cast})`;
}

function decodeShape(value: unknown, spec: TensorSpec, budget: number, maxBatch: number): number[] {
  const name = quote(spec.name);
  const modelShape = `${shapeText(spec.shape)} (-1 = any size)`;
  if (!Array.isArray(value)) {
    throw badRequest(
      `input ${name} shape must be a list of dimensions like ${shapeText(spec.shape.map((d) => (d < 0 ? 1 : d)))}, got ${describeValue(value)}`,
    );
  }
  if (value.length !== spec.shape.length) {
    throw badRequest(
      `input ${name} has shape of rank ${value.length}; the model expects rank ${spec.shape.length}: ${modelShape}`,
    );
  }
  value.forEach((dim: unknown, i) => {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      throw badRequest(
        `input ${name} shape[${i}] is ${describeValue(dim)}; dimensions are non-negative integers`,
      );
    }
    const expected = spec.shape[i] as number;
    if (expected >= 0 && dim !== expected) {
      throw badRequest(
        `input ${name} has shape ${shapeText(value as number[])}; dimension ${i} must be ${expected} (model shape ${modelShape})`,
      );
    }
    if (dim === 0) {
      throw badRequest(
        `input ${name} has shape ${shapeText(value as number[])}; dimension ${i} is 0, so there is nothing to infer: send at least one instance`,
      );
    }
  });
  const shape = value as number[];
  if (spec.shape[0] === -1 && (shape[0] as number) > maxBatch) {
    throw badRequest(
      `input ${name} has a batch of ${shape[0]}; at most ${maxBatch} instances per request`,
    );
  }
  if (elementCount(shape, budget) === Infinity) {
    throw badRequest(
      `input ${name} has shape ${shapeText(shape)}, more than the ${budget} elements a request may carry: send fewer instances per request`,
    );
  }
  return shape;
}

function decodeInput(
  raw: unknown,
  index: number,
  manifest: ModelManifest,
  budget: number,
  limits: DecodeLimits,
): DecodedTensor {
  if (!isPlainObject(raw)) {
    throw badRequest(
      `inputs[${index}] must be an object {"name", "shape", "datatype", "data"}, got ${describeValue(raw)}`,
    );
  }
  const name = own(raw, 'name');
  if (typeof name !== 'string') {
    throw badRequest(`inputs[${index}].name must be a string, got ${describeValue(name)}`);
  }
  const spec = findSpec(manifest.inputs, name);
  if (spec === undefined) {
    throw badRequest(
      `unknown input ${quote(name)}; the model's inputs are: ${nameList(manifest.inputs.map((s) => s.name))}`,
    );
  }
  const datatype = own(raw, 'datatype');
  if (!isV2Datatype(datatype)) {
    const upper = typeof datatype === 'string' ? datatype.toUpperCase() : undefined;
    const hint = isV2Datatype(upper) ? ` (datatypes are case-sensitive: ${upper})` : '';
    throw badRequest(
      `input ${quote(name)} has datatype ${typeof datatype === 'string' ? quote(datatype) : describeValue(datatype)}${hint}; use one of ${V2_DATATYPES.join(', ')} (the model expects ${v2DatatypeOf(spec.dtype)})`,
    );
  }
  const read = elementReader(datatype, spec.dtype);
  if (read === undefined) throw badRequest(datatypeHint(datatype, spec, manifest));
  rejectExtensions(
    parseParameters(own(raw, 'parameters'), `input ${quote(name)} parameters`),
    `input ${quote(name)}`,
    false,
    manifest.name,
  );
  const shape = decodeShape(own(raw, 'shape'), spec, budget, limits.maxBatch);
  const data = own(raw, 'data');
  // A Float32Array is FP32 data read by mscr: a binary input (inlineBinaryInputs) or a JSON
  // list of FP32 numbers (json-tensors.ts, via splitInferBody).
  if (!Array.isArray(data) && !(data instanceof Float32Array)) {
    throw badRequest(
      `input ${quote(name)} data must be a list of values (flat in row-major order, or nested like the shape), got ${describeValue(data)}`,
    );
  }
  const walked = walkTensor(data, {
    where: `input ${quote(name)} data`,
    shape,
    maxElements: budget,
    read,
    dtype: spec.dtype,
    allowFlat: true,
  });
  return { name, dtype: spec.dtype, shape: walked.shape, data: walked.data };
}

function decodeOutputs(value: unknown, manifest: ModelManifest): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) {
    throw badRequest(
      `outputs must be a list like [{"name": ${JSON.stringify(manifest.outputs[0]?.name ?? 'output')}}], got ${describeValue(value)}`,
    );
  }
  if (value.length === 0) return undefined;
  const names: string[] = [];
  value.forEach((raw: unknown, i) => {
    const name = isPlainObject(raw) ? own(raw, 'name') : undefined;
    if (!isPlainObject(raw) || typeof name !== 'string') {
      throw badRequest(
        `outputs[${i}] must be an object {"name": "..."}, got ${describeValue(raw)}`,
      );
    }
    if (findSpec(manifest.outputs, name) === undefined) {
      throw badRequest(
        `unknown output ${quote(name)}; the model's outputs are: ${nameList(manifest.outputs.map((s) => s.name))}`,
      );
    }
    if (names.includes(name)) throw badRequest(`output ${quote(name)} is asked for twice`);
    rejectExtensions(
      parseParameters(own(raw, 'parameters'), `output ${quote(name)} parameters`),
      `output ${quote(name)}`,
      true,
      manifest.name,
    );
    names.push(name);
  });
  return names;
}

/**
 * Validates an `$inference_request` against the model and decodes every input to the
 * manifest's dtype. Throws `bad_request` naming the first problem and how to fix it.
 */
export function decodeInferRequest(
  body: unknown,
  manifest: ModelManifest,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): DecodedInferRequest {
  checkLimits(limits);
  if (!isPlainObject(body)) {
    throw badRequest(
      `an inference request must be a JSON object ${REQUEST_SHAPE}, got ${describeValue(body)}`,
    );
  }
  const id = own(body, 'id');
  if (id !== undefined && typeof id !== 'string') {
    throw badRequest(`id must be a string, got ${describeValue(id)}`);
  }
  const parameters = parseParameters(own(body, 'parameters'), 'parameters');
  const rawInputs = own(body, 'inputs');
  if (!Array.isArray(rawInputs) || rawInputs.length === 0) {
    throw badRequest(
      `${rawInputs === undefined ? 'inputs is missing' : Array.isArray(rawInputs) ? 'inputs is empty' : `inputs must be a list, got ${describeValue(rawInputs)}`}: send ${REQUEST_SHAPE} with one entry per model input (${nameList(manifest.inputs.map((s) => s.name))})`,
    );
  }
  const decoded: DecodedTensor[] = [];
  let budget = limits.maxElements;
  rawInputs.forEach((raw: unknown, i) => {
    const tensor = decodeInput(raw, i, manifest, budget, limits);
    if (decoded.some((t) => t.name === tensor.name)) {
      throw badRequest(`input ${quote(tensor.name)} is given twice`);
    }
    budget -= tensor.data.length;
    decoded.push(tensor);
  });
  const missing = manifest.inputs.filter((spec) => !decoded.some((t) => t.name === spec.name));
  if (missing.length > 0) {
    throw badRequest(
      `missing input ${nameList(missing.map((s) => s.name))}; the model's inputs are: ${nameList(manifest.inputs.map((s) => s.name))}`,
    );
  }
  const inputs = manifest.inputs.map(
    (spec) => decoded.find((t) => t.name === spec.name) as DecodedTensor,
  );
  checkBatch(manifest, inputs, limits);
  const outputs = decodeOutputs(own(body, 'outputs'), manifest);
  return {
    ...(id !== undefined ? { id } : {}),
    ...(parameters !== undefined ? { parameters } : {}),
    inputs,
    ...(outputs !== undefined ? { outputs } : {}),
  };
}

/**
 * Model outputs -> `$inference_response`: FP32, flat row-major data, only the requested
 * outputs (in the requested order), `id` echoed when the request had one.
 */
export function encodeInferResponse(
  model: string,
  version: number | string,
  outputs: readonly OutputTensor[],
  requestedOutputs?: readonly string[],
  id?: string,
): InferResponse {
  const chosen =
    requestedOutputs === undefined || requestedOutputs.length === 0
      ? outputs
      : requestedOutputs.map((name) => {
          const output = outputs.find((o) => o.name === name);
          if (output === undefined) {
            throw badRequest(
              `unknown output ${quote(name)}; the model's outputs are: ${nameList(outputs.map((o) => o.name))}`,
            );
          }
          return output;
        });
  const encoded = chosen.map((output): InferResponseOutput => {
    checkOutput(output);
    const where = `output ${quote(output.name)}`;
    return {
      name: output.name,
      shape: [...output.shape],
      datatype: 'FP32',
      data: Array.from(output.data, (v) => float32ToJson(v, where)),
    };
  });
  return {
    model_name: model,
    model_version: String(version),
    ...(id !== undefined ? { id } : {}),
    outputs: encoded,
  };
}

function metadataTensor(spec: TensorSpec): MetadataTensor {
  return { name: spec.name, datatype: v2DatatypeOf(spec.dtype), shape: [...spec.shape] };
}

/** `$metadata_model_response` of a model: its served versions (ascending) and signature. */
export function v2ModelMetadata(
  manifest: ModelManifest,
  versions: readonly number[],
): ModelMetadata {
  return {
    name: manifest.name,
    versions: [...new Set(versions)].sort((a, b) => a - b).map(String),
    platform: platformOf(manifest.framework),
    inputs: manifest.inputs.map(metadataTensor),
    outputs: manifest.outputs.map(metadataTensor),
  };
}
