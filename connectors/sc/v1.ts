/**
 * SC connector: the V1 protocol, i.e. TensorFlow Serving's REST API as KServe V1 adopted it.
 *
 * Sources: tensorflow/serving `tensorflow_serving/g3doc/api_rest.md` (predict, model status,
 * `{"b64": ...}` binary values, `{"error": ...}`), `tensorflow_serving/apis/get_model_status.proto`
 * (version states and their numbers), and KServe's V1 data-plane page (`GET /v1/models`,
 * `{"name", "ready"}`).
 */

/** A binary value (image bytes) inside JSON, as TF Serving encodes it. */
export interface B64Value {
  b64: string;
}

/** A V1 tensor value: a number, boolean, string or `{b64}`, or a (nested) list of them. */
export type V1Value = number | boolean | string | B64Value | V1Value[];

/** `signature_name`: mscr models have one signature, TF Serving's default name. */
export const DEFAULT_SIGNATURE = 'serving_default';

/**
 * Row format: one entry per instance (the batch is the list). For a single-input model an
 * instance is the input without its batch dimension; for several inputs, an object by name.
 */
export interface V1PredictRowRequest {
  signature_name?: string;
  instances: (V1Value | Record<string, V1Value>)[];
}

/** Columnar format: the whole batch per input, or one tensor for a single-input model. */
export interface V1PredictColumnarRequest {
  signature_name?: string;
  inputs: V1Value | Record<string, V1Value>;
}

/** A predict request has `instances` or `inputs`, never both. */
export type V1PredictRequest = V1PredictRowRequest | V1PredictColumnarRequest;

/** Answer to a row request: one prediction per instance (objects by output name when several). */
export interface V1PredictRowResponse {
  predictions: (V1Value | Record<string, V1Value>)[];
}

/** Answer to a columnar request: the output tensor, or an object by output name when several. */
export interface V1PredictColumnarResponse {
  outputs: V1Value | Record<string, V1Value>;
}

export type V1PredictResponse = V1PredictRowResponse | V1PredictColumnarResponse;

/** `ModelVersionStatus.State` of TF Serving (`get_model_status.proto`), serialised by name. */
export type ModelVersionState = 'UNKNOWN' | 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';
export const MODEL_VERSION_STATES: readonly ModelVersionState[] = [
  'UNKNOWN',
  'START',
  'LOADING',
  'AVAILABLE',
  'UNLOADING',
  'END',
];

/** `tensorflow.error.Code` names, as TF Serving's JSON carries them in `status.error_code`. */
export type TfErrorCode =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS';

/** `StatusProto` (`tensorflow_serving/util/status.proto`). */
export interface StatusProto {
  error_code: TfErrorCode;
  error_message: string;
}

/** One version's status. `version` is a string: proto3 JSON writes int64 as a string. */
export interface ModelVersionStatus {
  version: string;
  state: ModelVersionState;
  status: StatusProto;
}

/** `GET /v1/models/{m}[/versions/{v}|/labels/{l}]` in TF Serving. */
export interface GetModelStatusResponse {
  model_version_status: ModelVersionStatus[];
}

/** `GET /v1/models/{m}` in KServe V1. */
export interface KServeV1ModelResponse {
  name: string;
  ready: boolean;
}

/**
 * What mscr answers on `GET /v1/models/{m}`: both shapes in one object, since TF Serving and
 * KServe V1 clients read the same path and each ignores the other's fields.
 */
export type V1ModelResponse = GetModelStatusResponse & Partial<KServeV1ModelResponse>;

/** `GET /v1/models` in KServe V1. */
export interface KServeV1ModelsResponse {
  models: string[];
}
