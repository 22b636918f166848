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
  decodeImageBody,
  decodeInferRequest,
  encodeClassifyResponse,
  encodeForecastResponse,
  encodeInferResponse,
  readCsvWindow,
  toErrorResponse,
  type DecodeLimits,
  type DecodedTensor,
  type OutputTensor,
} from '../protocols/index.ts';

export interface BrokerInferOptions {
  dataPlane: DataPlane;
  monitoring: Monitoring;
  limits: DecodeLimits & { maxBodyBytes: number };
}

export interface BrokerAnswer {
  /** The V2 response; for an image or a CSV window, the classify or forecast answer. */
  response: InferResponse | object;
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

/** What a message's content type asks for: a V2 request (JSON, the default), an image, a CSV window. */
export function payloadKind(contentType: unknown): 'v2' | 'image' | 'csv' {
  if (contentType === undefined || contentType === null || contentType === '') return 'v2';
  const type = String(contentType).split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/json') return 'v2';
  if (type.startsWith('image/')) return 'image';
  if (type === 'text/csv' || type === 'text/plain') return 'csv';
  throw new MscrError(
    'bad_request',
    `content type ${JSON.stringify(String(contentType).slice(0, 100))} is not accepted: send application/json (a V2 infer request), image/* (an image to classify) or text/csv (a window to forecast)`,
    { status: 415 },
  );
}

function outputOf(result: {
  manifest: { outputs: { name: string }[] };
  shape: number[];
  output: Float32Array;
}): OutputTensor {
  return {
    name: result.manifest.outputs[0]?.name ?? 'output',
    shape: result.shape,
    data: result.output,
  };
}

/**
 * One message through the data plane. `contentType` picks the decoding as HTTP's routes do:
 * JSON -> V2 infer; an image -> the classify answer (top 5); a CSV window -> the forecast.
 */
export async function inferMessage(
  options: BrokerInferOptions,
  model: string,
  body: Buffer,
  contentType?: unknown,
): Promise<BrokerAnswer> {
  const { dataPlane, monitoring, limits } = options;
  const kind = payloadKind(contentType);
  if (kind !== 'v2') {
    if (body.length > limits.maxBodyBytes) parseBody(body, limits.maxBodyBytes); // throws 413
    if (body.length === 0)
      throw new MscrError(
        'bad_request',
        `empty message body: send the ${kind === 'image' ? 'image' : 'CSV window'}`,
      );
    let logged: LoggedInput | undefined;
    const result = await dataPlane.infer(model, undefined, async (manifest) => {
      const shape = [1, ...(manifest.inputs[0]?.shape ?? []).slice(1)];
      if (kind === 'image') {
        // The service's image policy (formats by magic bytes, pixel cap, decode slots), as HTTP.
        const input = await decodeImageBody(body, manifest, {
          source: 'the message body',
          ...(limits.images ? { policy: limits.images } : {}),
        });
        logged = monitoring.imageInput(body, input, shape);
        return { input, shape };
      }
      const { input } = readCsvWindow(body.toString('utf8'), manifest);
      return { input, shape };
    });
    const predictionIds = monitoring.remember(result, () => logged);
    const response =
      kind === 'image'
        ? encodeClassifyResponse(
            result.manifest,
            result.version,
            outputOf(result),
            5,
            predictionIds,
          )
        : encodeForecastResponse(result.manifest, result.version, outputOf(result), predictionIds);
    return { response, version: result.version, predictionIds };
  }
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

/**
 * `inferMessage`, holding the message while its model has no version yet (a replica that
 * is starting, a first load): a broker has no 503-and-retry-later, and requeueing at once
 * would spin through the delivery limit in milliseconds. Gives up after `waitMs`, or as soon
 * as `stopping()` (the message is then redelivered, not answered).
 */
export async function inferWhenAvailable(
  options: BrokerInferOptions,
  model: string,
  body: Buffer,
  contentType: unknown,
  wait: { waitMs: number; stopping: () => boolean },
): Promise<BrokerAnswer> {
  const deadline = Date.now() + wait.waitMs;
  for (;;) {
    try {
      return await inferMessage(options, model, body, contentType);
    } catch (error) {
      if (!isMscrError(error, 'unavailable') || Date.now() > deadline || wait.stopping())
        throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
