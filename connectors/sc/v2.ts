/**
 * SC connector: the Open Inference Protocol (KServe V2; also spoken by Triton and MLServer),
 * HTTP/REST with JSON bodies, as the server sends and the SDK reads it.
 *
 * Source: kserve/kserve `docs/predict-api/v2/required_api.md` and
 * kserve/open-inference-protocol `specification/protocol/inference_rest.md`.
 * Field names are the spec's own (snake_case), so any OIP client works unchanged.
 */
import type { TensorDtype } from '../ms/manifest.ts';

/** Tensor element types of the protocol ("Tensor Data Types" in the spec). */
export const V2_DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type V2Datatype = (typeof V2_DATATYPES)[number];

export function isV2Datatype(value: unknown): value is V2Datatype {
  return typeof value === 'string' && (V2_DATATYPES as readonly string[]).includes(value);
}

const datatypeByDtype: Record<TensorDtype, V2Datatype> = {
  float32: 'FP32',
  int32: 'INT32',
  bool: 'BOOL',
};

/** The V2 datatype of a manifest dtype: float32 -> FP32, int32 -> INT32, bool -> BOOL. */
export function v2DatatypeOf(dtype: TensorDtype): V2Datatype {
  return datatypeByDtype[dtype];
}

/** The manifest dtype of a V2 datatype, or undefined for a datatype no manifest declares. */
export function tensorDtypeOf(datatype: V2Datatype): TensorDtype | undefined {
  switch (datatype) {
    case 'FP32':
      return 'float32';
    case 'INT32':
      return 'int32';
    case 'BOOL':
      return 'bool';
    default:
      return undefined;
  }
}

/**
 * The datatypes the server accepts for an input of each manifest dtype: its own, and those
 * that convert without loss. Integer datatypes are converted value by value, and a value that
 * would change (an INT64 beyond 2^24 for FP32, a UINT32 beyond 2^31-1 for INT32) is refused
 * with its position. FP64 is never taken for FP32 (almost every decimal changes when rounded
 * to 32 bits), floats are never taken for INT32, and only BOOL is taken for BOOL.
 */
export const V2_ACCEPTED_DATATYPES: Readonly<Record<TensorDtype, readonly V2Datatype[]>> = {
  float32: [
    'FP32',
    'FP16',
    'INT8',
    'INT16',
    'INT32',
    'INT64',
    'UINT8',
    'UINT16',
    'UINT32',
    'UINT64',
  ],
  int32: ['INT32', 'INT8', 'INT16', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64'],
  bool: ['BOOL'],
};

/** `$parameters`: name -> string, number or boolean. */
export type Parameters = Record<string, string | number | boolean>;

/** One element of JSON tensor data. BYTES elements are strings. */
export type TensorElement = number | boolean | string;
/** `$tensor_data`: row-major, flat or nested in the tensor's natural shape. */
export type TensorData = TensorElement[] | TensorData[];

/** `$metadata_server_response` (`GET /v2`). */
export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

/** `$live_server_response` (`GET /v2/health/live`): 200 when live. */
export interface ServerLiveResponse {
  live: boolean;
}

/** `$ready_server_response` (`GET /v2/health/ready`): 200 when ready, else 503. */
export interface ServerReadyResponse {
  ready: boolean;
}

/** `$ready_model_response` (`GET /v2/models/{m}[/versions/{v}]/ready`): 200 when ready. */
export interface ModelReadyResponse {
  name: string;
  ready: boolean;
}

/** `$metadata_tensor`: `-1` marks a variable-size dimension. */
export interface MetadataTensor {
  name: string;
  datatype: V2Datatype;
  shape: number[];
}

/** `$metadata_model_response` (`GET /v2/models/{m}[/versions/{v}]`). */
export interface ModelMetadata {
  name: string;
  /** Versions that may be asked for explicitly, as strings (`"3"`). */
  versions?: string[];
  /** `<project>_<format>`; mscr models report `tfjs_layers-model`. */
  platform: string;
  inputs: MetadataTensor[];
  outputs: MetadataTensor[];
}

/** `$request_input`: the full batch's shape and data. */
export interface InferRequestInput {
  name: string;
  shape: number[];
  datatype: V2Datatype;
  parameters?: Parameters;
  data: TensorData;
}

/** `$request_output`: which output to return. */
export interface InferRequestOutput {
  name: string;
  parameters?: Parameters;
}

/** `$inference_request` (`POST /v2/models/{m}[/versions/{v}]/infer`). */
export interface InferRequest {
  /** Echoed in the response when given. */
  id?: string;
  parameters?: Parameters;
  inputs: InferRequestInput[];
  /** Absent: every output of the model. */
  outputs?: InferRequestOutput[];
}

/** `$response_output`. */
export interface InferResponseOutput {
  name: string;
  shape: number[];
  datatype: V2Datatype;
  parameters?: Parameters;
  data: TensorData;
}

/** `$inference_response`. */
export interface InferResponse {
  model_name: string;
  /** The version that answered, as a string (`"3"`). */
  model_version?: string;
  id?: string;
  parameters?: Parameters;
  outputs: InferResponseOutput[];
}

/** The platform string mscr reports in model metadata (`<project>_<format>`). */
export const MSCR_PLATFORM = 'tfjs_layers-model';

/**
 * The platform of a version by its framework: `tfjs_layers-model`, `tfjs_graph-model`, or
 * Triton's `onnxruntime_onnx` for ONNX models.
 */
export function platformOf(framework: { name: string; format: string }): string {
  return framework.name === 'onnx' ? 'onnxruntime_onnx' : `${framework.name}_${framework.format}`;
}
