/**
 * The two inference protocols most clients send, as functions of (route, body, headers) ->
 * encoded answer, with no HTTP framework in them: Open Inference V2 `infer` (JSON and the
 * binary tensor extension) and TF Serving / KServe V1 `:predict`. The Express app and the
 * inference fast lane (fast-lane.ts) both call these, so there is one path per protocol.
 */
import type { ServerResponse } from 'node:http';
import type { Route, VersionSelector } from '../../connectors/sc/index.ts';
import { MscrError } from '../../connectors/errors.ts';
import { preparedInputs, type DataPlane, type InferResult } from '../dataplane/index.ts';
import { tensorRows, type LoggedInput, type Monitoring } from '../monitoring/index.ts';
import {
  binaryOutputsWanted,
  decodeInferRequest,
  decodeV1PredictRequest,
  encodeBinaryResponse,
  encodeInferResponse,
  encodeV1PredictResponse,
  inlineBinaryInputs,
  parseTfServingJson,
  splitInferBody,
  stringifyTfServingJson,
  type DecodeLimits,
  type DecodedTensor,
  type OutputTensor,
} from '../protocols/index.ts';

/** An encoded answer: what to write, and which version answered (a metrics label). */
export interface Answer {
  version: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

export interface InferenceContext {
  dataPlane: DataPlane;
  monitoring: Monitoring;
  limits: DecodeLimits;
}

type ModelRoute = Extract<Route, { model: string }>;

export function selectorOf(route: Route): VersionSelector | undefined {
  return 'selector' in route ? route.selector : undefined;
}

/** Every output of a result, named as the manifest names them. */
export function outputsOf(result: InferResult): OutputTensor[] {
  return result.outputs.map((o) => ({ name: o.name, shape: o.shape, data: o.data }));
}

function toFloat32(tensor: DecodedTensor): Float32Array {
  return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data);
}

/** `POST /v2/models/{m}[/versions/{v}]/infer`. */
export async function answerV2Infer(
  { dataPlane, monitoring, limits }: InferenceContext,
  route: ModelRoute,
  body: Buffer,
  headerLength: string | undefined,
  requestId: string,
): Promise<Answer> {
  const { json, binary } = splitInferBody(body, headerLength);
  const request = inlineBinaryInputs(json, binary, limits.maxElements);
  let decoded: ReturnType<typeof decodeInferRequest> | undefined;
  let rows: LoggedInput[] = [];
  const result = await dataPlane.infer(route.model, selectorOf(route), (manifest) => {
    decoded = decodeInferRequest(request, manifest, limits);
    const first = decoded.inputs[0] as DecodedTensor;
    // The prediction log keeps the first input's rows (one tensor per row).
    rows = tensorRows(toFloat32(first), first.shape);
    return preparedInputs(decoded.inputs);
  });
  // Every V2 answer has an id: the request's, else this request's X-Request-Id.
  const response = encodeInferResponse(
    result.model,
    result.version,
    outputsOf(result),
    decoded?.outputs,
    decoded?.id ?? requestId,
  );
  // One id per row, as a response parameter (V2 parameters are scalars: comma-separated).
  const ids = monitoring.remember(result, (row) => rows[row]);
  if (ids.length > 0)
    response.parameters = { ...response.parameters, prediction_ids: ids.join(',') };
  const jsonAnswer = { version: result.version, contentType: 'application/json' };
  const wanted = binaryOutputsWanted(json);
  if (wanted !== 'all' && wanted.size === 0)
    return { ...jsonAnswer, body: JSON.stringify(response) };
  const encoded = encodeBinaryResponse(response, wanted);
  if (encoded.headerLength === undefined) return { ...jsonAnswer, body: encoded.body };
  return {
    version: result.version,
    contentType: 'application/octet-stream',
    body: encoded.body,
    headers: { 'Inference-Header-Content-Length': String(encoded.headerLength) },
  };
}

/** `POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict` (TF Serving's JSON, NaN included). */
export async function answerV1Predict(
  { dataPlane, limits }: InferenceContext,
  route: ModelRoute,
  body: Buffer,
): Promise<Answer> {
  const json = parseTfServingJson(body);
  let format: 'row' | 'columnar' = 'row';
  const result = await dataPlane.infer(route.model, selectorOf(route), async (manifest) => {
    const decoded = await decodeV1PredictRequest(json, manifest, limits);
    format = decoded.format;
    // Every input reaches the engine by name.
    return preparedInputs(decoded.inputs);
  });
  return {
    version: result.version,
    contentType: 'application/json',
    body: stringifyTfServingJson(encodeV1PredictResponse(format, outputsOf(result))),
  };
}

/** Writes an answer: exactly its content type (no charset: some clients compare). */
export function writeAnswer(res: ServerResponse, answer: Answer): void {
  res.setHeader('Content-Type', answer.contentType);
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  res.end(answer.body);
}

export function modelRouteOf(route: Route): ModelRoute {
  if (!('model' in route)) throw new MscrError('internal', `route ${route.kind} has no model`);
  return route;
}
