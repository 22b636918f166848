/**
 * What every broker adapter does with one message: the V2 infer request body (JSON) -> the
 * data plane -> the V2 response with its prediction ids. The same calls the HTTP `infer`
 * handler makes (decodeInferRequest, DataPlane.infer, Monitoring.remember,
 * encodeInferResponse): a broker is another door to the one data plane, not a second
 * inference path. Protocol-specific parts (acks, reply routing, headers) stay in the adapters.
 */
import { MscrError, isMscrError } from '../../connectors/errors.ts';
import type { InferResponse } from '../../connectors/sc/v2.ts';
import type { DataPlane } from '../dataplane/index.ts';
import { tensorRows, type LoggedInput, type Monitoring } from '../monitoring/index.ts';
import {
  decodeInferRequest,
  encodeInferResponse,
  toErrorResponse,
  type DecodeLimits,
  type DecodedTensor,
} from '../protocols/index.ts';

export interface BrokerInferOptions {
  dataPlane: DataPlane;
  monitoring: Monitoring;
  limits: DecodeLimits & { maxBodyBytes: number };
}

export interface BrokerAnswer {
  response: InferResponse;
  version: number;
  predictionIds: string[];
}

/** A client's mistake (dead-letter it: retrying cannot help) versus our trouble (retry). */
export function isClientError(error: unknown): boolean {
  return isMscrError(error) && error.status >= 400 && error.status < 500;
}

/**
 * The `{"error"}` text a broker answer and a dead letter carry. It also goes into headers
 * (AMQP) and user properties (MQTT 5, where U+0000 is forbidden), and may quote the sender's
 * bytes (a JSON parse error does): control characters and undecodable bytes become `?`, and
 * it is cut to 1000 characters.
 */
export function errorText(error: unknown): { status: number; message: string } {
  const { status, body } = toErrorResponse(error);
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  const clean = body.error.replace(/[\u0000-\u001f\u007f-\u009f\ufffd\ud800-\udfff]/g, '?');
  return { status, message: clean.length > 1000 ? `${clean.slice(0, 997)}...` : clean };
}

/** Parses a message body as JSON, with the size limit HTTP applies to bodies. */
export function parseBody(body: Buffer, maxBytes: number): unknown {
  if (body.length > maxBytes) {
    throw new MscrError(
      'bad_request',
      `message body of ${body.length} bytes is larger than the ${maxBytes}-byte limit: send fewer instances per message`,
      { status: 413 },
    );
  }
  if (body.length === 0)
    throw new MscrError('bad_request', 'empty message body: send a V2 infer request as JSON');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new MscrError(
      'bad_request',
      `message body is not JSON (${(error as Error).message}): send a V2 infer request {"inputs": [{"name", "shape", "datatype", "data"}]}`,
    );
  }
}

export async function inferMessage(
  options: BrokerInferOptions,
  model: string,
  body: Buffer,
): Promise<BrokerAnswer> {
  const { dataPlane, monitoring, limits } = options;
  const request = parseBody(body, limits.maxBodyBytes);
  let decoded: ReturnType<typeof decodeInferRequest> | undefined;
  let rows: LoggedInput[] = [];
  const result = await dataPlane.infer(model, undefined, (manifest) => {
    decoded = decodeInferRequest(request, manifest, limits);
    const input = decoded.inputs[0] as DecodedTensor;
    const data = input.data instanceof Float32Array ? input.data : Float32Array.from(input.data);
    rows = tensorRows(data, input.shape);
    return { input: data, shape: input.shape };
  });
  const spec = result.manifest.outputs[0];
  const response = encodeInferResponse(
    result.model,
    result.version,
    [{ name: spec?.name ?? 'output', shape: result.shape, data: result.output }],
    decoded?.outputs,
    decoded?.id,
  );
  const predictionIds = monitoring.remember(result, (row) => rows[row]);
  if (predictionIds.length > 0)
    response.parameters = { ...response.parameters, prediction_ids: predictionIds.join(',') };
  return { response, version: result.version, predictionIds };
}
